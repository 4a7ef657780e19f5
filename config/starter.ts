import { configSchema } from "./schema";

/** The commented starter file `hflow-infra config init` writes. Every value shown is the default (taken from the schema). */
export function starterConfig(): string {
  const d = configSchema.parse({});
  const { asg, workers: w, alarms: a } = d.ecs;
  const json = JSON.stringify;
  return `{
  // JSON with comments. Every key is optional; delete what you do not change.
  // Schema for editor completion: hflow-infra config schema > hyperflow.config.schema.json
  "$schema": "./hyperflow.config.schema.json",

  // AWS region of every stack (or HFLOW_REGION / --region).
  "region": ${json(d.region)},

  // Tags on every resource, instance, volume and ECS task.
  "tags": { "project": "hyperflow" },

  // CIDRs allowed to reach the RabbitMQ management UI. Empty: use SSM port forwarding (see the rabbitmq_ui output).
  "adminCidrs": [],

  // Terraform state: { "type": "local" } or { "type": "s3", "bucket": "my-state-bucket" }.
  "backend": { "type": ${json(d.backend.type)} },

  // { "mode": "default" } (the account's default VPC), { "mode": "new", "azCount": 2 },
  // or { "mode": "existing", "vpcId": "vpc-0123456789abcdef0" }.
  "network": { "mode": ${json(d.network.mode)} },

  // InfluxDB + Grafana with HyperFlow dashboards (the grafana stack); the cluster then reports there.
  "monitoring": { "enabled": ${json(d.monitoring.enabled)} },

  "ecs": {
    "clusterName": ${json(d.ecs.clusterName)},
    "instanceType": ${json(d.ecs.instanceType)},
    // "amiId": "ami-…",          // pin an AMI; default: current ECS-optimized Amazon Linux 2023
    // "keyPairName": "my-key",   // SSH is optional; SSM Session Manager works without it
    "metricsUrl": ${json(d.ecs.metricsUrl)},              // InfluxDB, e.g. http://10.0.0.5:8086/hyperflow_tests
    "asg": { "min": ${asg.min}, "max": ${asg.max}, "desired": ${asg.desired} },
    "workers": {
      "desiredCount": ${w.desiredCount},
      "minCapacity": ${w.minCapacity},
      "maxCapacity": ${w.maxCapacity},
      "scalingAdjustment": ${w.scalingAdjustment},
      "storage": ${json(w.storage)},
      "featureDownload": ${w.featureDownload}
      // "bucket": "my-workflow-bucket"   // S3 access for the workers, limited to this bucket
    },
    "alarms": { "highThreshold": ${a.highThreshold}, "lowThreshold": ${a.lowThreshold}, "highPeriodSeconds": ${a.highPeriodSeconds}, "lowPeriodSeconds": ${a.lowPeriodSeconds}, "evaluationPeriods": ${a.evaluationPeriods} }
  }
}
`;
}
