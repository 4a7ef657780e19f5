/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  // @swc/jest strips types without type-checking; `npm test` runs `tsc --noEmit` first.
  transform: { "^.+\\.(t|j)s$": ["@swc/jest", { jsc: { target: "es2022", parser: { syntax: "typescript" } } }] },
  setupFilesAfterEnv: ["<rootDir>/test/support/setup.ts"],
  maxWorkers: "50%",
  workerIdleMemoryLimit: "1GB",
  testPathIgnorePatterns: ["/node_modules/", "/dist/", "/cdktf.out/"],
  testTimeout: 60000,
};
