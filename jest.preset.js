// Shared jest settings: TypeScript through ts-jest (transpile only; `tsc` does the type checking),
// workspace packages resolved to their sources so a change is tested without a rebuild.
const path = require('node:path');
const packages = path.join(__dirname, 'packages');

/** @param {string} dir the package's own folder */
module.exports = (dir) => ({
  rootDir: dir,
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: path.join(__dirname, 'tsconfig.jest.json') }],
  },
  moduleNameMapper: {
    '^@switchboard/([a-z-]+)$': `${packages}/$1/src/index.ts`,
    '^@switchboard/([a-z-]+)/([a-z-]+)$': `${packages}/$1/src/$2.ts`,
  },
  testTimeout: 30_000,
});
