// Lint runs inside `npm test`: any warning fails the suite.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
    {
        ignores: ["node_modules/**", "out/**", "dist/**", "media/dist/**", ".cache/**", "artifacts/**", "native/**/build/**", "native/train/**", "test/e2e/fixtures/**", "test/fixtures/qa-eval/**"]
    },
    js.configs.recommended,
    ...tseslint.configs.recommended,
    {
        files: ["**/*.ts"],
        rules: {
            "@typescript-eslint/no-unused-vars": ["error", {argsIgnorePattern: "^_", varsIgnorePattern: "^_"}],
            "@typescript-eslint/no-explicit-any": "error",
            "no-console": "off",
            "eqeqeq": ["error", "always"],
            "prefer-const": "error",
            "no-restricted-syntax": ["error", {selector: "ExportDefaultDeclaration", message: "Use named exports."}]
        }
    },
    {
        // Pure logic never touches the editor or the native binding.
        files: ["src/indexer/**/*.ts", "src/common/**/*.ts", "src/engine/selection/**/*.ts", "src/engine/prompt/**/*.ts", "src/engine/scorers/**/*.ts", "src/engine/cacheManifest.ts"],
        rules: {
            "no-restricted-imports": ["error", {paths: [
                {name: "vscode", message: "Pure modules must not import vscode."},
                {name: "node-llama-cpp", message: "Only src/engine/llamaBinding.ts imports node-llama-cpp."}
            ]}]
        }
    },
    {
        files: ["**/*.mjs", "**/*.js"],
        languageOptions: {globals: {process: "readonly", console: "readonly", URL: "readonly"}}
    }
);
