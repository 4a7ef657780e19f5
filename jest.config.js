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
  testPathIgnorePatterns: ["/node_modules/", "/dist/", "/cdktf.out/"],
  testTimeout: 60000,
};
