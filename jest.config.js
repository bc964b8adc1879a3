// Jest runs TypeScript through ts-jest's ESM preset (NODE_OPTIONS=--experimental-vm-modules, see package.json).
// One project per kind of test so each npm script selects exactly the components it starts.
const common = {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  // Sources import siblings with a .js suffix (NodeNext); map them back to the .ts file for Jest.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.test.json' }],
  },
};

export default {
  // The Temporal SDK's native runtime (and its metrics exporter) outlives the last test by several seconds;
  // every suite closes what it opened, so do not wait for it.
  forceExit: true,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'node', testMatch: ['<rootDir>/test/node/**/*.test.ts'] },
    { ...common, displayName: 'registry', testMatch: ['<rootDir>/test/registry/**/*.test.ts'] },
    { ...common, displayName: 'workflow', testMatch: ['<rootDir>/test/workflow/**/*.test.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] },
    // Real faults injected into the lab (processes killed and stalled, a node cut off): after e2e, alone.
    { ...common, displayName: 'faults', testMatch: ['<rootDir>/test/faults/**/*.test.ts'] },
    // The lab's up/down cycle; it ends with the lab down, so it runs last and alone.
    { ...common, displayName: 'lab', testMatch: ['<rootDir>/test/lab/**/*.test.ts'] },
  ],
};
