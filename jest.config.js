// Unit tests of the JupyterLab extension. JupyterLab and Lumino ship ES modules, so ts-jest
// compiles them too (allowJs) instead of leaving node_modules untouched.
const esModules = [
  '@jupyterlab',
  '@lumino',
  '@jupyter',
  'lib0',
  'y-protocols',
  'yjs',
  'nanoid'
];

module.exports = {
  testEnvironment: 'jsdom',
  roots: ['<rootDir>/src'],
  testMatch: ['**/__tests__/**/*.spec.ts'],
  // The server's shared entry from its sources, not its build: a stale dist/ cannot pass.
  moduleNameMapper: {
    '^reproserver/contract$': '<rootDir>/server/src/contract/index.ts'
  },
  transform: {
    '^.+\\.[tj]sx?$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }],
    '^.+\\.svg$': '<rootDir>/testutils/svg-transform.js'
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esModules.join('|')})/)`]
};
