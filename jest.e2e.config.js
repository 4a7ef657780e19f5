/**
 * Slow end-to-end tests (`npm run test:e2e`): real container images built with podman or docker
 * (images/build.ts), the real HyperFlow engine, Ceph RGW. `npm test` leaves test/e2e/ out.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test/e2e"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.jest.json" }] },
  // One file at a time: image builds and the Ceph cluster each want the whole (2-core) machine.
  maxWorkers: 1,
  testTimeout: 20 * 60_000,
};
