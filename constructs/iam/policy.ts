/**
 * Least privilege in one place: policy-document builders, the `Grantee` every grant goes to, and the
 * one IAM role construct. Constructs never write IAM JSON by hand; a resource-owning construct offers
 * `grantX(grantee)` (e.g. `bucket.grantRead(role)`), resource-less actions have a free function
 * (`grantPutMetricData(role, namespace)`), so the policy rules in test/support/policy-rules.ts have one
 * shape to check.
 */
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { Token } from "cdktf";
import { Construct } from "constructs";
import { PropsError } from "../core/validation";

/** IAM condition block, e.g. `{ StringEquals: { "cloudwatch:namespace": "hyperflow" } }`. */
export type PolicyConditions = Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;

export interface PolicyStatement {
  /** @default - no Sid */
  readonly sid?: string;
  /** @default "Allow" */
  readonly effect?: "Allow" | "Deny";
  /** Named actions; `*` and `service:*` are refused. */
  readonly actions: readonly string[];
  readonly resources: readonly string[];
  /** @default - no condition */
  readonly conditions?: PolicyConditions;
}

/** A policy document as a JSON string; tokens (ARNs) inside are resolved by cdktf at synth. */
export function policyDocument(statements: readonly PolicyStatement[]): string {
  for (const s of statements) {
    const wildcard = s.actions.find((a) => a === "*" || a === "*:*");
    if (wildcard)
      throw new PropsError(
        "PolicyStatement",
        `actions of statement ${s.sid ?? "(no sid)"}`,
        wildcard,
        "named actions (a statement may not grant every action)",
      );
  }
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: statements.map((s) => ({
      ...(s.sid ? { Sid: s.sid } : {}),
      Effect: s.effect ?? "Allow",
      Action: [...s.actions],
      Resource: [...s.resources],
      ...(s.conditions ? { Condition: s.conditions } : {}),
    })),
  });
}

/**
 * Something a policy can be added to: a `ServiceRole` made here, or an `ImportedRole` (a role of another
 * stack, or known only by name). Every grant takes one.
 */
export interface Grantee {
  /** Name of the role (a token for a role made by Terraform). */
  readonly roleName: string;
  /** Adds an inline policy named `name` with the statements and returns it. */
  addPolicy(name: string, statements: readonly PolicyStatement[]): IamRolePolicy;
}

export interface ServiceRoleProps {
  /** Service principal allowed to assume the role, e.g. `ecs-tasks.amazonaws.com`. */
  readonly service: string;
  /** Role name prefix (cut to the 38 characters IAM allows); AWS appends a unique suffix so parallel deployments never collide. */
  readonly namePrefix: string;
  readonly description: string;
  /** Account id that must be the source of the assume-role call (confused-deputy guard). @default - no condition */
  readonly sourceAccount?: string;
  /** Managed policies to attach, by ARN; the name after the last `/` must be literal and distinct (it keys the attachment). @default - none */
  readonly managedPolicyArns?: readonly string[];
  /** Actions the service may call on the trust policy. @default - sts:AssumeRole only */
  readonly assumeActions?: readonly string[];
}

/** An IAM role for an AWS service, with an optional `aws:SourceAccount` condition on its trust policy. */
export class ServiceRole extends Construct implements Grantee {
  readonly resource: IamRole;

  constructor(scope: Construct, id: string, props: ServiceRoleProps) {
    super(scope, id);
    const managed = (props.managedPolicyArns ?? []).map((arn) => ({ arn, id: managedPolicyId(arn) }));
    const seen = new Set<string>();
    for (const m of managed) {
      if (seen.has(m.id))
        throw new PropsError(
          "ServiceRole",
          "managedPolicyArns",
          props.managedPolicyArns,
          `policies with distinct names (${m.id.slice("Managed".length)} appears twice)`,
        );
      seen.add(m.id);
    }
    const trust = {
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Principal: { Service: props.service },
          Action: props.assumeActions ? [...props.assumeActions] : "sts:AssumeRole",
          ...(props.sourceAccount ? { Condition: { StringEquals: { "aws:SourceAccount": props.sourceAccount } } } : {}),
        },
      ],
    };
    this.resource = new IamRole(this, "Resource", {
      namePrefix: props.namePrefix.slice(0, 38),
      description: props.description,
      assumeRolePolicy: JSON.stringify(trust),
    });
    // Keyed by the policy's name, not its position: removing one policy from the list leaves the
    // other attachments where they are in Terraform state.
    for (const m of managed) new IamRolePolicyAttachment(this, m.id, { role: this.resource.name, policyArn: m.arn });
  }

  get roleName(): string {
    return this.resource.name;
  }

  get roleArn(): string {
    return this.resource.arn;
  }

  /** Adds an inline policy named `name` (also its construct id below the role). */
  addPolicy(name: string, statements: readonly PolicyStatement[]): IamRolePolicy {
    // `id` of an IAM role is its name; referencing it is what this role's policies always did.
    return new IamRolePolicy(this, name, { role: this.resource.id, name, policy: policyDocument(statements) });
  }
}

/** Construct id of a managed-policy attachment: `Managed` + the policy's name (the ARN after its last `/`). */
function managedPolicyId(arn: string): string {
  const name = arn.slice(arn.lastIndexOf("/") + 1);
  if (!arn.includes("/") || name === "" || Token.isUnresolved(name) || !/^[\w+=,.@-]+$/.test(name)) {
    throw new PropsError("ServiceRole", "managedPolicyArns", arn, "policy ARNs ending in a literal policy name (arn:…:policy/[path/]Name)");
  }
  return `Managed${name}`;
}

/**
 * A role this code did not create here: one from another stack (its name is a cross-stack reference)
 * or known by name. Its policies are created in `scope`, so they belong to the stack that grants.
 */
export class ImportedRole implements Grantee {
  /** Policies added to the role become children of `scope` with their name as id. */
  static fromRoleName(scope: Construct, roleName: string): ImportedRole {
    return new ImportedRole(scope, roleName);
  }

  private constructor(
    private readonly scope: Construct,
    readonly roleName: string,
  ) {}

  addPolicy(name: string, statements: readonly PolicyStatement[]): IamRolePolicy {
    return new IamRolePolicy(this.scope, name, { role: this.roleName, name, policy: policyDocument(statements) });
  }
}

/** Read-only (list + get) or read-write (+ put, delete, abort multipart) access to one bucket. */
export function bucketStatements(bucketArn: string, mode: "read" | "readwrite"): PolicyStatement[] {
  const objectActions = mode === "read" ? ["s3:GetObject"] : ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"];
  return [
    { sid: "ListBucket", actions: ["s3:ListBucket", "s3:GetBucketLocation"], resources: [bucketArn] },
    { sid: mode === "read" ? "ObjectRead" : "ObjectReadWrite", actions: objectActions, resources: [`${bucketArn}/*`] },
  ];
}

/** Read one Secrets Manager secret (what the ECS agent needs for `secrets` in a task definition). */
export function secretReadStatements(secretArn: string): PolicyStatement[] {
  return [{ sid: "ReadSecret", actions: ["secretsmanager:GetSecretValue"], resources: [secretArn] }];
}

/** `cloudwatch:PutMetricData`, only into one namespace (PutMetricData supports no resource ARNs, hence no owning construct). */
export function grantPutMetricData(grantee: Grantee, namespace: string): IamRolePolicy {
  return grantee.addPolicy("PutMetricData", [
    {
      sid: "PutMetricDataInNamespace",
      actions: ["cloudwatch:PutMetricData"],
      resources: ["*"],
      conditions: { StringEquals: { "cloudwatch:namespace": namespace } },
    },
  ]);
}

/** `cloudwatch:GetMetricData`: reading metrics supports no resource ARNs and no condition keys, hence "*". */
export function grantGetMetricData(grantee: Grantee): IamRolePolicy {
  return grantee.addPolicy("GetMetricData", [{ sid: "GetMetricData", actions: ["cloudwatch:GetMetricData"], resources: ["*"] }]);
}
