// Shared jest settings: swc transpiles TypeScript (fast, keeps NestJS decorator metadata) and
// tsconfig.base.json's path aliases resolve to library sources, so no project needs a build first.
const path = require('node:path');
const { compilerOptions } = require('./tsconfig.base.json');

const moduleNameMapper = Object.fromEntries(
  Object.entries(compilerOptions.paths).map(([alias, [target]]) => [
    `^${alias.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`,
    path.join(__dirname, target),
  ]),
);

module.exports = {
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['**/*.spec.ts', '**/*.e2e-spec.ts'],
  // aedes 1.x ships only ES modules; swc turns it into CommonJS for jest (Node 20's require(esm)
  // serves the apps at run time, but jest's module loader does not implement it before Node 24.9).
  transformIgnorePatterns: ['/node_modules/(?!aedes/)'],
  transform: {
    '^.+\\.(ts|js)$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
        },
        module: { type: 'commonjs' },
        sourceMaps: 'inline',
      },
    ],
  },
  // The console's components import their stylesheets (bundled by Vite); in node tests they are empty.
  moduleNameMapper: { ...moduleNameMapper, '\\.css$': path.join(__dirname, 'tools/jest-css-stub.js') },
  clearMocks: true,
};
