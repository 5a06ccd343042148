// The direction of imports in src/ (DESIGN §5), as ESLint rules: for the files
// of each folder, `no-restricted-imports` patterns naming the folders it may
// not import, each with a message that states the rule (the shape of Temporal's
// TypeScript SDK eslint config); and no import cycle between files at all.
// eslint.config.js uses both; test/import-boundaries.test.ts shows them fail.
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';

/**
 * No import cycles between `files` (import-x/no-cycle, which follows every
 * import through the TypeScript resolver). A dynamic `await import()` counts as
 * an edge: the CLI's lazy imports are there to start fast, not to hide a cycle,
 * and a module that imports its importer back is tangled whether it does so at
 * load time or later. `import type` does not count (erased at build time); the
 * layer rules below govern type imports as well.
 */
export function noImportCycles(files) {
  return {
    files,
    plugins: { 'import-x': importX },
    settings: {
      // TypeScript files are modules to follow (without these, import-x reads .js files only and sees no cycle at all).
      'import-x/extensions': importX.flatConfigs.typescript.settings['import-x/extensions'],
      'import-x/parsers': importX.flatConfigs.typescript.settings['import-x/parsers'],
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: 'tsconfig.json' })],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true, allowUnsafeDynamicCyclicDependency: false }] },
  };
}

// Layers, top to bottom. A folder may import the layers below its own and the
// leaves; a sibling in its layer only where ALSO_ALLOWED says so. Type-only
// imports count too: a shape shared across layers belongs in api/.
const LAYERS = [
  ['cli', 'demo'],
  // src/agent.ts wires everything; src/state-dir-lock.ts is the agent's own.
  ['agent'],
  ['http'],
  // lab/ (the shared engine for many hosts, PostgreSQL) sits beside jobs/, and hands it the jobs it claims.
  ['jobs', 'lab'],
  ['health'],
  ['slots'],
  ['devices'],
  ['platform'],
  // API view shapes: types only, built from config/ and db/ types, importable by every layer above.
  ['api'],
  ['config', 'db'],
];

/** Same-layer imports that are allowed: cli starts the demo; db reads the config model; the lab runs jobs. */
const ALSO_ALLOWED = { cli: ['demo'], db: ['config'], lab: ['jobs'] };

/** Test and demo support: imports only platform/ (and leaves); only demo/ (and cli/ above it) may import it. */
const EMULATED_LAB = 'emulated-lab';

/** Modules in src/ itself, by layer name: `agent` is two files; the others are leaves. */
const ROOT_MODULES = { agent: ['agent', 'state-dir-lock'] };
/** Leaves: anyone may import them and they import no folder of src/ (nor agent). */
const LEAVES = ['errors', 'log', 'words', 'version', 'tokens'];

const FOLDERS = LAYERS.flat()
  .filter((name) => !(name in ROOT_MODULES))
  .concat(EMULATED_LAB);
const ORDER =
  'imports run cli/demo → agent → http → jobs/lab → health → slots → devices → platform → api → config/db (DESIGN §5)';

/** A regex for a relative import of the named layer: `../http/auth.js`, `./http/app.js` from src/, `../../agent.js`. */
function importOf(name) {
  // Layer names are letters and '-': nothing to escape.
  const path = name in ROOT_MODULES ? `(${ROOT_MODULES[name].join('|')})\\.js$` : `${name}/`;
  return `^(\\./|(\\.\\./)+)${path}`;
}

/** How a message names a layer: `http/`, or the agent's two files. */
function display(name) {
  return name in ROOT_MODULES ? ROOT_MODULES[name].map((file) => `src/${file}.ts`).join(' and ') : `${name}/`;
}

function rule(subject, forbidden, order) {
  return {
    'no-restricted-imports': [
      'error',
      {
        patterns: forbidden.map((name) => ({
          regex: importOf(name),
          caseSensitive: true,
          message: `${subject} may not import ${display(name)}: ${order}`,
        })),
      },
    ],
  };
}

/** The forbidden layers of each layer: its own layer's siblings (unless allowed), every layer above, and emulated-lab. */
function forbiddenFor(name) {
  const level = LAYERS.findIndex((layer) => layer.includes(name));
  const above = LAYERS.slice(0, level).flat();
  const siblings = LAYERS[level].filter((other) => other !== name && !(ALSO_ALLOWED[name] ?? []).includes(other));
  const lab = name === 'cli' || name === 'demo' ? [] : [EMULATED_LAB];
  return [...siblings, ...above, ...lab];
}

function filesOf(name) {
  if (name in ROOT_MODULES) return ROOT_MODULES[name].map((file) => `src/${file}.ts`);
  return [`src/${name}/**/*.ts`, `src/${name}/**/*.tsx`];
}

/** The flat-config entries, one per folder. */
export const importLayers = [
  ...LAYERS.flat().map((name) => ({ files: filesOf(name), rules: rule(display(name), forbiddenFor(name), ORDER) })),
  {
    files: filesOf(EMULATED_LAB),
    rules: rule(
      display(EMULATED_LAB),
      LAYERS.flat().filter((name) => name !== 'platform'),
      `${EMULATED_LAB}/ is test and demo support that imports only platform/ and the leaves (DESIGN §5)`,
    ),
  },
  {
    files: LEAVES.map((leaf) => `src/${leaf}.ts`),
    rules: rule(
      `a leaf (${LEAVES.map((leaf) => `src/${leaf}.ts`).join(', ')})`,
      [...FOLDERS, 'agent'],
      'leaves import no folder of src/, so that any layer may import them (DESIGN §5)',
    ),
  },
];
