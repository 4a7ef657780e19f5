/** The real ECR control plane for images/push.ts, through the AWS SDK (default credential chain). */
import { DescribeImagesCommand, ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import type { EcrApi } from "./push";

export function awsEcr(region: string): EcrApi & { destroy(): void } {
  const client = new ECRClient({ region });
  return {
    getAuthorizationToken: (input) => client.send(new GetAuthorizationTokenCommand(input)),
    describeImages: (input) => client.send(new DescribeImagesCommand(input)),
    destroy: () => client.destroy(),
  };
}
