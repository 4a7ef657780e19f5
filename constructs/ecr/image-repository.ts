/**
 * An ECR repository for one of this project's images (images/engine, images/worker): immutable tags
 * (a tag names one image forever, so a task definition that names `<url>:<tag>` always runs the same
 * bytes), scan on push, encryption at rest (AES256, or a KMS key), and a lifecycle policy that expires
 * untagged images after some days and keeps the most recent tagged ones. A repository that still holds
 * images is not deleted on destroy unless `forceDelete` is set.
 */
import { EcrLifecyclePolicy } from "@cdktf/provider-aws/lib/ecr-lifecycle-policy";
import { EcrRepository } from "@cdktf/provider-aws/lib/ecr-repository";
import { Construct } from "constructs";
import { IMAGE_REPOSITORY_DEFAULTS } from "../core/defaults";
import { ECR_REPOSITORY_NAME, IMAGE_TAG, KEEP_TAGGED_IMAGES, KMS_KEY_ARN, UNTAGGED_EXPIRY_DAYS } from "../core/rules";
import { PropsError, requireRule } from "../core/validation";

export type RepositoryEncryption = "AES256" | "KMS";

export interface ImageRepositoryProps {
  /** Repository name (lowercase, `/`-separated parts), e.g. from `repositoryName`. */
  readonly name: string;
  /** AES256 (S3-managed keys) or KMS. @default "AES256" */
  readonly encryption?: RepositoryEncryption;
  /** KMS key ARN with `encryption: "KMS"`. @default - the AWS managed key aws/ecr */
  readonly kmsKeyArn?: string;
  /** Days after which an untagged image expires, 1 to 3650. @default 7 */
  readonly untaggedExpiryDays?: number;
  /** Tagged images kept (the most recently pushed), 1 to 10000. @default 30 */
  readonly keepTaggedImages?: number;
  /** Let destroy delete the repository with its images. @default false */
  readonly forceDelete?: boolean;
  /** @default - none (the provider's default tags still apply) */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * The name of a cluster's repository for `image`: `<cluster name in lowercase, runs of other
 * characters than letters and digits as one "-">/<image>`, e.g. `ecs-test-cluster-hyperflow/worker`.
 */
export function repositoryName(clusterName: string, image: string): string {
  const ns =
    clusterName
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "") || "hyperflow";
  return `${ns}/${image}`;
}

/** The lifecycle policy document (ECR lifecycle policy JSON). */
export function lifecyclePolicy(untaggedExpiryDays: number, keepTaggedImages: number): string {
  return JSON.stringify({
    rules: [
      {
        rulePriority: 1,
        description: `Expire untagged images ${untaggedExpiryDays} days after their push`,
        selection: { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: untaggedExpiryDays },
        action: { type: "expire" },
      },
      {
        rulePriority: 2,
        description: `Keep the ${keepTaggedImages} most recently pushed tagged images`,
        selection: { tagStatus: "tagged", tagPatternList: ["*"], countType: "imageCountMoreThan", countNumber: keepTaggedImages },
        action: { type: "expire" },
      },
    ],
  });
}

export class ImageRepository extends Construct {
  readonly resource: EcrRepository;
  readonly lifecycle: EcrLifecyclePolicy;
  /** `<account>.dkr.ecr.<region>.amazonaws.com/<name>` (a token until apply). */
  readonly repositoryUrl: string;
  readonly repositoryArn: string;

  constructor(scope: Construct, id: string, props: ImageRepositoryProps) {
    super(scope, id);
    requireRule("ImageRepository", "name", props.name, ECR_REPOSITORY_NAME);
    const encryption = props.encryption ?? IMAGE_REPOSITORY_DEFAULTS.encryption;
    if (encryption !== "AES256" && encryption !== "KMS") throw new PropsError("ImageRepository", "encryption", encryption, "AES256 or KMS");
    if (props.kmsKeyArn !== undefined) {
      if (encryption !== "KMS") throw new PropsError("ImageRepository", "kmsKeyArn", props.kmsKeyArn, 'nothing unless encryption is "KMS"');
      requireRule("ImageRepository", "kmsKeyArn", props.kmsKeyArn, KMS_KEY_ARN, { allowTokens: true });
    }
    const untagged = props.untaggedExpiryDays ?? IMAGE_REPOSITORY_DEFAULTS.untaggedExpiryDays;
    requireRule("ImageRepository", "untaggedExpiryDays", untagged, UNTAGGED_EXPIRY_DAYS);
    const keep = props.keepTaggedImages ?? IMAGE_REPOSITORY_DEFAULTS.keepTaggedImages;
    requireRule("ImageRepository", "keepTaggedImages", keep, KEEP_TAGGED_IMAGES);

    this.resource = new EcrRepository(this, "Resource", {
      name: props.name,
      imageTagMutability: "IMMUTABLE",
      imageScanningConfiguration: { scanOnPush: true },
      encryptionConfiguration: [{ encryptionType: encryption, ...(props.kmsKeyArn ? { kmsKey: props.kmsKeyArn } : {}) }],
      forceDelete: props.forceDelete ?? IMAGE_REPOSITORY_DEFAULTS.forceDelete,
      tags: props.tags ? { ...props.tags } : undefined,
    });
    this.lifecycle = new EcrLifecyclePolicy(this, "Lifecycle", { repository: this.resource.name, policy: lifecyclePolicy(untagged, keep) });
    this.repositoryUrl = this.resource.repositoryUrl;
    this.repositoryArn = this.resource.arn;
  }

  /** `<repository url>:<tag>` for an immutable tag (e.g. `imageTag("worker")` from images/tag.ts). */
  imageRef(tag: string): string {
    requireRule("ImageRepository.imageRef", "tag", tag, IMAGE_TAG);
    return `${this.repositoryUrl}:${tag}`;
  }
}
