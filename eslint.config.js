// Lint rules that carry architecture, not taste. The important block is the one for src/core:
// the deterministic core must never reach for the real clock, timers, randomness, the process or any
// module outside core, because the simulator replays the core from a seed (DESIGN.md section 2).
import tseslint from 'typescript-eslint'

const ambientTimeAndRandomness = [
  { name: 'Date', message: 'core sees time only as nowMs arguments' },
  { name: 'setTimeout', message: 'core has no timers: the shell calls tick(nowMs)' },
  { name: 'setInterval', message: 'core has no timers: the shell calls tick(nowMs)' },
  { name: 'setImmediate', message: 'core has no timers: the shell calls tick(nowMs)' },
  { name: 'queueMicrotask', message: 'core is synchronous: inputs in, effects out' },
  { name: 'performance', message: 'core sees time only as nowMs arguments' },
  { name: 'process', message: 'core must not touch the process' },
  { name: 'crypto', message: 'randomness comes from the injected Random' },
  { name: 'Buffer', message: 'core uses Uint8Array; Buffer is a node:* type' },
  { name: 'WeakRef', message: 'garbage collection is not deterministic' },
  { name: 'FinalizationRegistry', message: 'garbage collection is not deterministic' },
  { name: 'require', message: 'core imports only core' },
]

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'coverage/**'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-var': 'error',
      'prefer-const': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', ...ambientTimeAndRandomness],
      'no-restricted-syntax': [
        'error',
        { selector: "MemberExpression[object.name='Math'][property.name='random']", message: 'randomness comes from the injected Random' },
        { selector: "MemberExpression[object.name='globalThis']", message: 'core must not reach for globals' },
        { selector: 'ImportExpression', message: 'core imports statically and only from core' },
      ],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^node:', message: 'core must not import node:* modules' },
            // Anything that is not a relative path is a package; core imports no runtime packages.
            { regex: '^[^.]', message: 'core imports only core (no npm packages)' },
            // Relative paths that climb out of src/core: storage, transport, runtime, sim, api, cli.
            { regex: '(^|/)\\.\\./(\\.\\./)*(storage|transport|runtime|sim|api|cli|errors)(/|\\.ts$|$)', message: 'core imports only core' },
          ],
        },
      ],
    },
  },
)
