// Two projects: `unit` (pure, fast, may fake what it isolates) and `integration` (real dockerd,
// registry and reprozip-made packages; started by the test command).
const tsJest = ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }];
// Commands the tests run (in-process or as child processes) keep their caches in a folder of the
// test run's, never in the user's home.
const setupFiles = ['<rootDir>/test/helpers/private-cache.ts'];

module.exports = {
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      setupFiles,
      transform: { '^.+\\.ts$': tsJest },
      testMatch: [
        '<rootDir>/test/unit/**/*.test.ts',
        '<rootDir>/src/**/*.test.ts'
      ]
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      setupFiles,
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/test/integration/**/*.test.ts']
    }
  ]
};
