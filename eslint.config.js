// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['node_modules/**', '.darkroom/**', 'test-output/**', 'dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: 'readonly', process: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // The reviewer tool's browser script: a classic script (inlined in its pages), type-checked
    // against the DOM by client/review/browser/tsconfig.json, which also catches undefined names.
    files: ['client/review/browser/**/*.js'],
    languageOptions: { sourceType: 'script' },
    rules: { 'no-undef': 'off' },
  },
  {
    // Workflow code is replayed: it must not touch the outside world or anything that varies
    // between runs. Temporal's sandbox would catch some of this at run time; lint catches it
    // before a history is ever written.
    files: ['workflows/**/*.ts', 'domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'Workflow and domain code must be deterministic: no Node built-ins.' })),
          patterns: [
            { group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity', '**/activities', '**/activities/**'], message: 'Workflows may only `import type` from activities.', allowTypeImports: true },
            { group: ['**/client/**', '**/workers/**', 'sharp', 'openai', '@google/genai', 'replicate', '@aws-sdk/*'], message: 'Workflow and domain code must not import side-effecting modules.' },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' },
        { name: 'setInterval', message: 'Use sleep() in a loop.' },
        { name: 'fetch', message: 'I/O belongs in activities.' },
        { name: 'process', message: 'Configuration is passed in, not read from process.' },
        { name: 'crypto', message: 'Use uuid4() from @temporalio/workflow or domain/hash.' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Time in workflows comes from activities or workflowInfo().' },
        { object: 'Math', property: 'random', message: 'Use uuid4() or a seeded PRNG from domain/.' },
        { object: 'performance', property: 'now', message: 'Not deterministic.' },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'new Date() is not deterministic here.' },
      ],
    },
  },
);
