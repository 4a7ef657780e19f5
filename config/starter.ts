/** The commented starter file `hflow-infra config init` writes. Every value shown is the default. */
export function starterConfig(): string {
  return `{
  // JSON with comments. Every key is optional; delete what you do not change.
  // Schema for editor completion: hflow-infra config schema > hyperflow.config.schema.json
  "$schema": "./hyperflow.config.schema.json",

  // AWS region of every stack (or HFLOW_REGION / --region).
  "region": "us-east-1",

  // Tags on every resource, instance, volume and ECS task.
  "tags": { "project": "hyperflow" },

  // CIDRs allowed to reach the RabbitMQ management UI. Empty: use SSM port forwarding (see the rabbitmq_ui output).
  "adminCidrs": [],

  // Terraform state: { "type": "local" } or { "type": "s3", "bucket": "my-state-bucket" }.
  "backend": { "type": "local" },

  // { "mode": "default" } (the account's default VPC), { "mode": "new", "azCount": 2 },
  // or { "mode": "existing", "vpcId": "vpc-0123456789abcdef0" }.
  "network": { "mode": "default" },

  // InfluxDB + Grafana with HyperFlow dashboards (the grafana stack); the cluster then reports there.
  "monitoring": { "enabled": false },

  "ecs": {
    "clusterName": "ecs_test_cluster_hyperflow",
    "instanceType": "t3.medium",
    // "amiId": "ami-…",          // pin an AMI; default: current ECS-optimized Amazon Linux 2023
    // "keyPairName": "my-key",   // SSH is optional; SSM Session Manager works without it
    "metricsUrl": "",              // InfluxDB, e.g. http://10.0.0.5:8086/hyperflow_tests
    "asg": { "min": 0, "max": 5, "desired": 0 },
    "workers": {
      "desiredCount": 2,
      "minCapacity": 1,
      "maxCapacity": 1000,
      "scalingAdjustment": 1,
      "storage": "cloud",
      "featureDownload": false
      // "bucket": "my-workflow-bucket"   // S3 access for the workers, limited to this bucket
    },
    "alarms": { "highThreshold": 700, "lowThreshold": 0, "highPeriodSeconds": 10, "lowPeriodSeconds": 10, "evaluationPeriods": 1 }
  }
}
`;
}
