/**
 * Names derived from other names. Cloud ids have length limits and most must end with a letter or
 * digit (GCP service account ids, GKE node pool and cluster names, GCP label keys); a plain
 * `.slice(0, n)` can leave a `-` at the cut, which the API then refuses.
 */

/** `name` cut to at most `maxLength` characters, without separators (`-`, `_`, `.`) left at the end of the cut. */
export function truncateName(name: string, maxLength: number): string {
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new RangeError(`truncateName: maxLength must be a positive integer (got ${maxLength})`);
  if (name.length <= maxLength) return name;
  return name.slice(0, maxLength).replace(/[-_.]+$/, "");
}

/**
 * A GCP resource name from any text: lowercase letters, digits and `-` only, starting with a letter
 * (`fallbackStart` is put in front otherwise), at most `maxLength` characters, not ending with `-`.
 */
export function gcpName(text: string, maxLength: number, fallbackStart = "x"): string {
  let s = text.toLowerCase().replace(/[^a-z0-9-]+/g, "-");
  if (!/^[a-z]/.test(s)) s = `${fallbackStart}-${s}`;
  return truncateName(s, maxLength).replace(/-+$/, "");
}

/**
 * Name prefixes within AWS limits. A `name_prefix` gets a 26-character unique suffix from the provider,
 * so each resource type allows the name's limit less 26 (hashicorp/terraform-provider-aws:
 * internal/service/ec2/ec2_launch_template.go `ValidLaunchTemplateName` (99),
 * internal/service/iam/instance_profile.go (128 - 26), internal/service/ec2/vpc_security_group.go (255 - 26),
 * internal/service/secretsmanager/validate.go (512 - 26)). IAM roles are cut by ServiceRole (38).
 */
export const NAME_PREFIX_MAX = {
  launchTemplate: 99,
  instanceProfile: 102,
  securityGroup: 229,
  secret: 486,
} as const;

/**
 * `base + suffix`, unchanged when it fits `max`; otherwise `base` is cut so that the whole has `max`
 * characters. The suffix stays whole: it tells a cluster's resources apart (`-master-`, `-worker-`).
 */
export function boundedPrefix(base: string, suffix: string, max: number): string {
  const whole = base + suffix;
  if (whole.length <= max) return whole;
  if (suffix.length >= max) throw new Error(`boundedPrefix: suffix ${JSON.stringify(suffix)} alone exceeds ${max} characters`);
  return base.slice(0, max - suffix.length) + suffix;
}
