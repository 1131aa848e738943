/**
 * Jest runs the TypeScript sources as native ESM through ts-jest in transpile-only mode (`isolatedModules`): no
 * type-check here, `npm run typecheck` does that once for the whole tree.
 */
export default {
  // Jest's Node environment, ending a worker with process.exit once it is idle (see the file).
  testEnvironment: '<rootDir>/test/support/node-environment.js',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': [
      'ts-jest',
      { useESM: true, tsconfig: { module: 'ESNext', moduleResolution: 'Bundler', isolatedModules: true, verbatimModuleSyntax: false } },
    ],
  },
  testTimeout: 30000,
  // Integration tests start real servers and child processes; two workers suit the 2-core machines we run on.
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
