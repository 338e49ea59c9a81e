// Two projects: `unit` (pure, fast, may fake what it isolates) and `integration` (real dockerd,
// registry and reprozip-made packages; started by the test command).
const tsJest = ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }];

module.exports = {
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: [
        '<rootDir>/test/unit/**/*.test.ts',
        '<rootDir>/src/**/*.test.ts'
      ]
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/test/integration/**/*.test.ts']
    }
  ]
};
