// Lint rules of hyperflow-infra: typescript-eslint's recommended set and no import cycles
// (import-x/no-cycle). `any` is an error everywhere but in test files, which read synthesized JSON of
// any shape; test support code is typed (its one open type is test/support/json.ts). Formatting is
// prettier's job (.prettierrc.json); both run in `npm test` (`npm run lint`).
import js from "@eslint/js";
import { createNodeResolver, importX } from "eslint-plugin-import-x";
import tseslint from "typescript-eslint";

const node = Object.fromEntries(
  [
    "require",
    "module",
    "exports",
    "process",
    "console",
    "__dirname",
    "__filename",
    "Buffer",
    "URL",
    "URLSearchParams",
    "fetch",
    "AbortSignal",
    "AbortController",
    "setTimeout",
    "clearTimeout",
    "setInterval",
    "clearInterval",
    "setImmediate",
  ].map((g) => [g, "readonly"]),
);

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", "cdktf.out/", "coverage/", ".gen/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { "import-x": importX },
    settings: { "import-x/resolver-next": [createNodeResolver({ extensions: [".ts", ".js", ".json"] })] },
    languageOptions: { globals: node },
    rules: {
      "import-x/no-cycle": ["error", { ignoreExternal: true }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    // Plain CommonJS scripts (build steps, the publisher that runs on a bare Node image): require is how they load.
    files: ["**/*.js", "**/*.cjs"],
    languageOptions: { sourceType: "commonjs" },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    files: ["test/**/*.test.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off", "@typescript-eslint/no-require-imports": "off" },
  },
);
