import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const AGENT_IMPORT_MESSAGE =
  'the agent must not load @kubernetes/client-node (over 60 MiB per node), nor a module of ours built on it: use src/kube/rest-client.ts';
// Import paths as written: @kubernetes/client-node (and its subpaths), src/kube/client-node/,
// src/controller/ and src/cmd/controller.ts, src/runtime/informer.ts.
const AGENT_FORBIDDEN = ['(^|/)client-node(/|$)', '(^|/)controller(/|\\.js$)', '(^|/)runtime/informer\\.js$'];
const AGENT_FORBIDDEN_IMPORTS = AGENT_FORBIDDEN.map((regex) => ({ regex, message: AGENT_IMPORT_MESSAGE }));
// The same for import() and require() (esquery's /regex/ cannot hold a "/": it is written \u002F).
const AGENT_FORBIDDEN_SOURCE = `/${AGENT_FORBIDDEN.join('|').replaceAll('/', '\\u002F')}/`;

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.cache/', 'coverage/', 'test/tools/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  // The agent runs on every node: it must never load @kubernetes/client-node (over 60 MiB per node),
  // neither directly nor through a module of ours built on it (the controller, the client-node
  // clients in src/kube/client-node/, the informer). Its API calls go through src/kube/rest-client.ts.
  // Covered: the agent, its command and the command helpers it imports, and the light src/kube/
  // files it uses. test/contract/agent-modules.test.ts checks the running process as well.
  {
    files: ['src/agent/**/*.ts', 'src/cmd/agent.ts', 'src/cmd/flags.ts', 'src/kube/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: AGENT_FORBIDDEN_IMPORTS }],
      'no-restricted-syntax': [
        'error',
        ...['ImportExpression > Literal.source', "CallExpression[callee.name='require'] > Literal.arguments"].map((node) => ({
          selector: `${node}[value=${AGENT_FORBIDDEN_SOURCE}]`,
          message: AGENT_IMPORT_MESSAGE,
        })),
      ],
    },
  },
  // The layering (docs/architecture.md, "Layering"): no import circle anywhere in src/, so every
  // module can be read, tested and replaced from the bottom up. Imports are written `./x.js` and
  // resolve to `./x.ts`.
  {
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js'], extensionAlias: { '.js': ['.ts', '.js'] } })],
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      // No import runs up a layer: the floors import nothing above them, and inside the controller
      // the data and pure deciders import neither the writers nor the reconcile nor the wiring.
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            { target: './src/time', from: './src', except: ['./time'], message: 'src/time/ is the lowest floor: it imports nothing of ours' },
            { target: './src/api', from: './src', except: ['./api', './time'], message: 'src/api/ imports only src/time/' },
            { target: './src/observability', from: ['./src/runtime', './src/kube', './src/controller', './src/agent', './src/emulator', './src/cmd'], message: 'src/observability/ sits below runtime/, kube/ and the components' },
            { target: './src/runtime', from: ['./src/controller', './src/agent', './src/emulator', './src/cmd'], message: 'src/runtime/ is machinery: it knows no component' },
            { target: './src/controller', from: './src/cmd', message: 'the commands wire the controller, not the other way round' },
            {
              target: ['./src/controller/config', './src/controller/cache', './src/controller/decide', './src/controller/maintenance'],
              from: ['./src/controller/write', './src/controller/reconcile', './src/controller/controller.ts', './src/controller/cleanup.ts'],
              message: 'config/, cache/, decide/ and maintenance/ are data and pure deciders: they import no writer, reconcile or wiring',
            },
            {
              target: ['./src/controller/write', './src/controller/dry-run', './src/controller/notifications'],
              from: ['./src/controller/reconcile', './src/controller/controller.ts', './src/controller/cleanup.ts'],
              message: 'the writers, the dry run and the notifications are used by reconcile/ and the wiring, never the reverse',
            },
          ],
        },
      ],
    },
  },
  // A function longer than a screen is read in pieces: past 80 lines, split it by its steps
  // (declarative tables such as the configuration schema are exempt by being data, not functions).
  {
    files: ['src/**/*.ts'],
    rules: { 'max-lines-per-function': ['warn', { max: 80, skipBlankLines: true, skipComments: true }] },
  },
);
