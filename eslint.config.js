// Flat config (ESLint 9 does not read .eslintrc.json).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['build/**', 'node_modules/**', 'data/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'express', message: 'Only server/http/**, app.ts and main.ts import express.' }] },
      ],
    },
  },
  {
    files: ['server/http/**/*.ts', 'server/app.ts', 'server/main.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // One home per error code (STYLE.md 11): JSON-RPC's reserved range -32768..-32000 is written only there.
    files: ['server/**/*.ts'],
    ignores: ['server/mcp/jsonrpc-errors.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "UnaryExpression[operator='-'] > Literal[value>=32000][value<=32768]",
          message: 'Name JSON-RPC error codes: use JsonRpcErrorCode (server/mcp/jsonrpc-errors.ts), adding a member there if needed.',
        },
      ],
    },
  },
  {
    files: ['server/**/*.ts'],
    ignores: ['server/config/**'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'process.env is read only in server/config/.' }],
    },
  },
);
