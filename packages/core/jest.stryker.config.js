// Jest for mutation testing (stryker.config.json): the sandbox is a copy of this package, so the
// package's own imports must resolve to the sandbox's (mutated) sources, not to the repo's.
const fs = require('node:fs');
const path = require('node:path');

/** The repository root: the nearest folder up with pnpm-workspace.yaml (the sandbox lives below it). */
function repoRoot(dir) {
  for (let d = dir; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'pnpm-workspace.yaml'))) return d;
    if (path.dirname(d) === d) throw new Error(`no pnpm-workspace.yaml above ${dir}`);
  }
}

module.exports = {
  rootDir: __dirname,
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: path.join(repoRoot(__dirname), 'tsconfig.jest.json') }] },
  moduleNameMapper: {
    '^@switchboard/core$': '<rootDir>/src/index.ts',
    '^@switchboard/core/([a-z-]+)$': '<rootDir>/src/$1.ts',
  },
};
