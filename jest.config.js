/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  // ts-jest transpiles only (tsconfig.jest.json: isolatedModules); `npm test` runs `tsc --noEmit` first.
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.jest.json" }] },
  setupFilesAfterEnv: ["<rootDir>/test/support/setup.ts"],
  maxWorkers: 2,
  workerIdleMemoryLimit: "1GB",
  // test/e2e/ (container images, slow) runs with `npm run test:e2e` (jest.e2e.config.js).
  testPathIgnorePatterns: ["/node_modules/", "/dist/", "/cdktf.out/", "<rootDir>/test/e2e/"],
  testTimeout: 60000,
};
