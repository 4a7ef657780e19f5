/**
 * Least privilege in one place: policy-document builders and small grant helpers. Constructs never
 * write IAM JSON by hand; they call these, so the policy rules in test/support/policy-rules.ts have
 * one shape to check.
 */
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { Construct } from "constructs";

export interface PolicyStatement {
  readonly sid?: string;
  /** @default "Allow" */
  readonly effect?: "Allow" | "Deny";
  readonly actions: readonly string[];
  readonly resources: readonly string[];
  /** IAM condition block, e.g. `{ StringEquals: { "cloudwatch:namespace": "hyperflow" } }`. */
  readonly conditions?: Record<string, Record<string, string | readonly string[]>>;
}

/** A policy document as a JSON string; tokens (ARNs) inside are resolved by cdktf at synth. */
export function policyDocument(statements: readonly PolicyStatement[]): string {
  for (const s of statements) {
    if (s.actions.some((a) => a === "*" || a === "*:*")) throw new Error(`policy statement ${s.sid ?? ""} grants every action; name the actions`);
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

export interface ServiceRoleProps {
  /** Service principal allowed to assume the role, e.g. `ecs-tasks.amazonaws.com`. */
  readonly service: string;
  /** Role name prefix; AWS appends a unique suffix so parallel deployments never collide. */
  readonly namePrefix: string;
  readonly description: string;
  /** Account id that must be the source of the assume-role call (confused-deputy guard). @default - no condition */
  readonly sourceAccount?: string;
  /** AWS-managed policies to attach, by ARN. @default - none */
  readonly managedPolicyArns?: readonly string[];
  /** Actions the service may call on the trust policy. @default ["sts:AssumeRole"] */
  readonly assumeActions?: readonly string[];
}

/** An IAM role for an AWS service, with an optional `aws:SourceAccount` condition on its trust policy. */
export class ServiceRole extends Construct {
  readonly role: IamRole;
  constructor(scope: Construct, id: string, props: ServiceRoleProps) {
    super(scope, id);
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
    this.role = new IamRole(this, "Resource", {
      namePrefix: props.namePrefix.slice(0, 38),
      description: props.description,
      assumeRolePolicy: JSON.stringify(trust),
    });
    (props.managedPolicyArns ?? []).forEach((arn, i) => {
      new IamRolePolicyAttachment(this, `Managed${i}`, { role: this.role.name, policyArn: arn });
    });
  }

  /** Adds an inline policy with the given statements to the role. */
  addPolicy(id: string, statements: readonly PolicyStatement[]): IamRolePolicy {
    return addRolePolicy(this, id, this.role.id, statements);
  }
}

/** Inline policy on a role known by name (also one from another stack). */
export function addRolePolicy(scope: Construct, id: string, roleName: string, statements: readonly PolicyStatement[]): IamRolePolicy {
  return new IamRolePolicy(scope, id, { role: roleName, name: id, policy: policyDocument(statements) });
}

/** Read-only (list + get) or read-write (+ put, delete, abort multipart) access to one bucket. */
export function bucketStatements(bucketArn: string, mode: "read" | "readwrite"): PolicyStatement[] {
  const objectActions = mode === "read" ? ["s3:GetObject"] : ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"];
  return [
    { sid: "ListBucket", actions: ["s3:ListBucket", "s3:GetBucketLocation"], resources: [bucketArn] },
    { sid: mode === "read" ? "ObjectRead" : "ObjectReadWrite", actions: objectActions, resources: [`${bucketArn}/*`] },
  ];
}

/** `cloudwatch:PutMetricData`, only into one namespace (PutMetricData supports no resource ARNs). */
export function grantPutMetricData(role: ServiceRole, namespace: string): IamRolePolicy {
  return role.addPolicy("PutMetricData", [
    { sid: "PutMetricDataInNamespace", actions: ["cloudwatch:PutMetricData"], resources: ["*"], conditions: { StringEquals: { "cloudwatch:namespace": namespace } } },
  ]);
}

/** Read one Secrets Manager secret (what the ECS agent needs for `secrets` in a task definition). */
export function grantSecretRead(role: ServiceRole, secretArn: string): IamRolePolicy {
  return role.addPolicy("ReadBrokerSecret", [{ sid: "ReadSecret", actions: ["secretsmanager:GetSecretValue"], resources: [secretArn] }]);
}

/** List, read, write and delete objects in one bucket given by name. */
export function grantBucketReadWrite(role: ServiceRole, partition: string, bucketName: string): IamRolePolicy {
  return role.addPolicy("WorkflowBucket", bucketStatements(`arn:${partition}:s3:::${bucketName}`, "readwrite"));
}
