import { esmOnlyPackages, ignoreAllBut } from './test/jest/esm-packages.mjs';

/**
 * Jest runs the suite as CommonJS: @swc/jest compiles TypeScript (legacy decorators with their
 * metadata, as Nest's DI needs) and the ESM-only packages of node_modules, which CommonJS
 * packages such as nest-commander `require()`. Which packages those are is read from their
 * package.json files at start, so an upgrade that turns a package into ESM needs no edit here.
 */
const swc = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
    target: 'es2023',
  },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};


/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test', '<rootDir>/clients/typescript/test', '<rootDir>/web/src'],
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.e2e-spec.ts', '<rootDir>/clients/typescript/test/**/*.e2e-spec.ts', '<rootDir>/web/src/**/*.spec.ts'],
  transform: { '^.+\\.(t|m?j)s$': ['@swc/jest', swc] },
  transformIgnorePatterns: [ignoreAllBut(esmOnlyPackages(new URL('./node_modules/', import.meta.url)))],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json', 'node'],
  // The sources import their siblings as `./x.js`, as NodeNext wants; under jest they are `./x.ts`.
  // The client package is tested and used from its sources, as tsconfig.json maps it.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1', '^@autocode/client$': '<rootDir>/clients/typescript/src/index.ts' },
  globalSetup: '<rootDir>/test/global-setup.ts',
  setupFiles: ['reflect-metadata'],
  testTimeout: 60_000,
  // Two cores run two spec files at once; the specs spawn servers and agents of their own.
  maxWorkers: process.env.JEST_MAX_WORKERS ?? '100%',
};

