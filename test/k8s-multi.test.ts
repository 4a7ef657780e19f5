import { checkPolicies } from "./support/policy-rules";
import { checkReferences } from "./support/references";
import { CONFIG_VARIANTS, synthConfig } from "./support/stack-json";
import { seedImagesIn } from "../config/schema";

const input = CONFIG_VARIANTS["eks-juicefs"];

describe("kubernetes.clusters: two EKS clusters sharing JuiceFS", () => {
  const { json, config } = synthConfig(input);
  test("policies", () => {
    for (const s of ["eks", "k8s"] as const) {
      expect(checkPolicies(json[s], { allowedIngressCidrs: config.adminCidrs, seedImages: Object.values(seedImagesIn(config)) })).toEqual([]);
      expect(checkReferences(json[s])).toEqual([]);
    }
  });
  test("dump", () => {
    require("fs").writeFileSync("/tmp/k8sm/eks.json", JSON.stringify(json.eks, null, 1));
    require("fs").writeFileSync("/tmp/k8sm/k8s.json", JSON.stringify(json.k8s, null, 1));
  });
});
