// One jest run for the whole monorepo. Tests import workspace packages from source (no build needed).
/** @type {import('jest').Config} */
const workspaceSources = {
  '^@vigil/(contracts|db|storage|queue|images|service-kit|engine|cluster)$': '<rootDir>/packages/$1/src',
  '^@vigil/(ingestion|dataset|training|inference)-service$': '<rootDir>/services/$1/src',
  '^@vigil/gateway$': '<rootDir>/gateway/src',
  '^@vigil/cli$': '<rootDir>/cli/src',
  // proto/src/generated is written by @vigil/proto's build (`npm test` builds first).
  '^@vigil/proto$': '<rootDir>/proto/src',
};
const shared = {
  transform: { '^.+\\.tsx?$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }] },
  moduleNameMapper: workspaceSources,
  testEnvironment: 'node',
  modulePathIgnorePatterns: ['<rootDir>/.*/dist/'],
};
module.exports = {
  testTimeout: 60_000,
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: ['<rootDir>/{packages,services,gateway,cli,proto}/**/src/**/*.spec.ts'],
    },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/tests/**/*.test.ts', '<rootDir>/{packages,services,gateway,cli}/**/src/**/*.int.test.ts'],
    },
  ],
};
