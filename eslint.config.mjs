import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const DEP_CONSTRAINTS = [
  // Nothing imports an app: apps are wiring only.
  { sourceTag: '*', notDependOnLibsWithTags: ['type:app'] },
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
    ignores: [
      '**/node_modules',
      '**/dist',
      '**/data',
      'tmp',
      '.nx',
      '**/jest.config.js',
      'jest.preset.js',
      'scripts/**',
    ],
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
              ? { ...c, onlyDependOnLibsWithTags: [...c.onlyDependOnLibsWithTags, 'type:testing'] }
              : c,
          ),
        },
      ],
    },
  },
];
