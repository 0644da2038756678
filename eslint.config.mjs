import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const DEP_CONSTRAINTS = [
  // Nothing imports an app: apps are wiring only.
  { sourceTag: '*', notDependOnLibsWithTags: ['type:app'] },
  // Scopes: shared code (contracts, runtime) stands alone; the browser gets shared code only;
  // backend and tools build on shared and backend; tests and benchmarks may use anything.
  { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
  { sourceTag: 'scope:frontend', onlyDependOnLibsWithTags: ['scope:shared', 'scope:frontend'] },
  { sourceTag: 'scope:backend', onlyDependOnLibsWithTags: ['scope:shared', 'scope:backend'] },
  { sourceTag: 'scope:tools', onlyDependOnLibsWithTags: ['scope:shared', 'scope:backend', 'scope:tools'] },
  { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: [] },
  { sourceTag: 'type:util', onlyDependOnLibsWithTags: ['type:contracts'] },
  // A repository may build on another (the spool's writer drains into the time-series port).
  {
    sourceTag: 'type:data-access',
    onlyDependOnLibsWithTags: ['type:contracts', 'type:util', 'type:data-access'],
  },
  {
    sourceTag: 'type:feature',
    onlyDependOnLibsWithTags: ['type:contracts', 'type:util', 'type:data-access'],
  },
  {
    sourceTag: 'type:tool',
    onlyDependOnLibsWithTags: ['type:contracts', 'type:util', 'type:data-access'],
  },
  {
    sourceTag: 'type:testing',
    onlyDependOnLibsWithTags: ['type:contracts', 'type:util', 'type:data-access', 'type:tool'],
  },
  {
    sourceTag: 'type:app',
    onlyDependOnLibsWithTags: ['type:contracts', 'type:util', 'type:data-access', 'type:feature'],
  },
  {
    sourceTag: 'type:e2e',
    onlyDependOnLibsWithTags: [
      'type:contracts',
      'type:util',
      'type:data-access',
      'type:feature',
      'type:testing',
      'type:tool',
    ],
  },
];

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  {
    ignores: ['**/node_modules', '**/dist', '**/data', 'tmp', '.nx', '**/jest.config.js', 'jest.preset.js'],
  },
  {
    // The launcher and the TypeScript loader are plain CommonJS run by Node.
    files: ['scripts/**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Contracts are browser-safe and framework-free: zod and each other, nothing else; no Node
    // globals (a browser has no Buffer or process).
    files: ['libs/contracts/src/**/*.ts'],
    ignores: ['libs/contracts/src/**/*.spec.ts', 'libs/contracts/src/spec-support.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^(?!zod$|\\.\\.?/)', message: 'contracts may import zod and their own files only' },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'Buffer', message: 'not in browsers: use Uint8Array / TextDecoder' },
        { name: 'process', message: 'contracts read no environment' },
        { name: 'require', message: 'contracts import zod and their own files only' },
        { name: '__dirname', message: 'contracts touch no files' },
      ],
    },
  },
  {
    // VN_AQI (libs/aqi) is browser-safe and stands alone: the console colours markers with it.
    // It imports its own files only (not even zod) and uses no Node globals.
    files: ['libs/aqi/src/**/*.ts'],
    ignores: ['libs/aqi/src/**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^(?!\\.\\.?/)', message: '@ioc/aqi imports its own files only' }] },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'Buffer', message: 'not in browsers' },
        { name: 'process', message: '@ioc/aqi reads no environment' },
        { name: 'require', message: '@ioc/aqi imports its own files only' },
        { name: '__dirname', message: '@ioc/aqi touches no files' },
      ],
    },
  },
  {
    // The operators' console runs in a browser: no Node module, no Node global. Its projects
    // (scope:frontend) import only the shared contracts and each other (DEP_CONSTRAINTS).
    files: ['apps/console/src/**/*.ts', 'libs/console-*/src/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^node:|^(fs|path|os|crypto|child_process|net|http|https|stream)$',
              message: 'not in a browser',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'Buffer', message: 'not in browsers: use Uint8Array / TextDecoder' },
        { name: 'process', message: 'the console reads its settings from /api/v1/console/config' },
        { name: 'require', message: 'ES modules only' },
        { name: '__dirname', message: 'not in browsers' },
      ],
    },
  },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
        emitDecoratorMetadata: true,
        experimentalDecorators: true,
      },
    },
    rules: {
      // Tags are scope × type; every project has both, so the constraints below are really enforced.
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: DEP_CONSTRAINTS,
        },
      ],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.spec.ts', '**/*.e2e-spec.ts', 'test/**/*.ts', 'libs/testing/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    // A library's own tests may use the test harnesses (a real influxd, free ports); its
    // production code may not.
    files: ['libs/**/*.spec.ts', 'devices-sim/**/*.spec.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: DEP_CONSTRAINTS.map((c) =>
            'onlyDependOnLibsWithTags' in c && c.sourceTag !== 'type:contracts'
              ? {
                  ...c,
                  onlyDependOnLibsWithTags: [
                    ...c.onlyDependOnLibsWithTags,
                    c.sourceTag.startsWith('scope:') ? 'scope:test' : 'type:testing',
                  ],
                }
              : c,
          ),
        },
      ],
    },
  },
];
