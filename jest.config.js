import { buildNestCommonJs, nestCommonJsModuleMap } from './test/jest/nest-commonjs.js';

// Nest 12 ships as ES modules only, so tests run as native ESM (node --experimental-vm-modules)
// and @swc/jest compiles TypeScript with decorator metadata, exactly like the build.
const swc = [
  '@swc/jest',
  {
    swcrc: false,
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      target: 'es2022',
      keepClassNames: true,
      transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
    },
    module: { type: 'es6' },
  },
];

const common = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper: {
    ...nestCommonJsModuleMap(),
    '^(\\.{1,2}/.*)\\.js$': '$1',
    // Its ES build imports JSON without an import attribute, which jest's ESM loader warns about on every file.
    '^libphonenumber-js$': '<rootDir>/node_modules/libphonenumber-js/index.cjs',
    '^libphonenumber-js/max$': '<rootDir>/node_modules/libphonenumber-js/max/index.cjs',
  },
  setupFiles: ['reflect-metadata'],
  testEnvironment: 'node',
  // .ci/docker-image's scratch space: a Debian root filesystem and a Docker data root while it runs.
  modulePathIgnorePatterns: ['<rootDir>/.ci/cache/'],
};

buildNestCommonJs();

const projects = [
  { ...common, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.spec.ts'] },
  {
    ...common,
    displayName: 'e2e',
    testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
    setupFilesAfterEnv: ['<rootDir>/test/jest/stop-service-processes.ts'],
  },
];

// JEST_PROJECT=unit|e2e keeps one project (the npm scripts set it). Not `--selectProjects`: it takes a
// list, so in `npm run test:unit -- src/foo.spec.ts` it would swallow the path as a project name and
// every test would run.
const only = process.env.JEST_PROJECT;
if (only !== undefined && !projects.some((project) => project.displayName === only)) {
  throw new Error(`JEST_PROJECT=${only}: expected one of ${projects.map((project) => project.displayName).join(', ')}`);
}

export default {
  // A global option only: jest ignores testTimeout inside a project. End-to-end tests start servers
  // and embedded databases, which can take seconds on a busy machine, and many more late in the suite:
  // its files run in one process, which grows past 4 GB, and an embedded database that boots in 5 s
  // alone has taken over 30 s there. (Run in workers replaced as they grow instead, closing an app whose
  // Redis Cluster master had restarted hung now and then.)
  testTimeout: 60_000,
  projects: only === undefined ? projects : projects.filter((project) => project.displayName === only),
};
