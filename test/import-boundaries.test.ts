// The import rules of DESIGN §5 as lint runs them (import-layers.js): a
// wrong-way import is reported with the rule in its message, a file-level
// cycle fails (a lazy import included), and the real src/ tree passes.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { ESLint, type Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { PROJECT_ROOT } from './helpers/cli.js';

interface ImportLayers {
  importLayers: Linter.Config[];
  noImportCycles: (files: string[]) => Linter.Config;
}

// A .js config module: loaded at run time, typed here by what the test uses of it.
const layers = (await import(pathToFileURL(join(PROJECT_ROOT, 'import-layers.js')).href)) as ImportLayers;

/** Only the import rules, without type information: fast, and nothing else can fail the test. */
function importLint(cycleFiles: string[]): ESLint {
  return new ESLint({
    cwd: PROJECT_ROOT,
    overrideConfigFile: true,
    overrideConfig: [
      // Other rules' disable comments in src/ name rules this config does not load.
      {
        files: ['**/*.ts', '**/*.tsx'],
        languageOptions: { parser: tseslint.parser },
        linterOptions: { reportUnusedDisableDirectives: 'off' },
      },
      layers.noImportCycles(cycleFiles),
      ...layers.importLayers,
    ],
  });
}

/** The import-rule messages for `code` as if it were the file at `filePath` (a real file, so that imports resolve). */
async function messagesFor(code: string, filePath: string): Promise<string[]> {
  const [result] = await importLint(['src/**/*.ts']).lintText(code, { filePath: join(PROJECT_ROOT, filePath) });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

describe('import boundaries', () => {
  it('reports a wrong-way import, saying the rule', async () => {
    const messages = await messagesFor(
      "import { HealthStore } from '../health/health-store.js';\nexport const store = HealthStore;\n",
      'src/slots/availability.ts',
    );
    assert.deepEqual(messages, [
      "no-restricted-imports: '../health/health-store.js' import is restricted from being used by a pattern. slots/ may not import health/: imports run cli/demo → agent → http → jobs/lab → health → slots → devices → platform → api → config/db (DESIGN §5)",
    ]);
  });

  it('lets imports run downward, and db/ import config/ but not the other way', async () => {
    assert.deepEqual(
      await messagesFor(
        "import { HealthStore } from '../slots/availability.js';\nexport const s = HealthStore;\n",
        'src/health/thresholds.ts',
      ),
      [],
    );
    assert.deepEqual(
      await messagesFor(
        "import type { LabModel } from '../config/lab-model.js';\nexport type L = LabModel;\n",
        'src/db/schema.ts',
      ),
      [],
    );
    const upward = await messagesFor(
      "import type { Db } from '../db/open-database.js';\nexport type D = Db;\n",
      'src/config/duration.ts',
    );
    assert.equal(upward.length, 1);
    assert.match(upward[0] ?? '', /config\/ may not import db\//);
  });

  it('keeps leaves and the emulated lab at the bottom', async () => {
    assert.match(
      (
        await messagesFor(
          "import { JOB_STATES } from './db/job-states.js';\nexport const s = JOB_STATES;\n",
          'src/tokens.ts',
        )
      ).join('\n'),
      /a leaf \(src\/errors\.ts.*\) may not import db\//,
    );
    assert.match(
      (
        await messagesFor(
          "import { describeDevice } from '../devices/describe-device.js';\nexport const d = describeDevice;\n",
          'src/emulated-lab/free-port.ts',
        )
      ).join('\n'),
      /emulated-lab\/ may not import devices\//,
    );
    assert.match(
      (
        await messagesFor(
          "import { buildEmulatedLab } from '../demo/demo-lab.js';\nexport const b = buildEmulatedLab;\n",
          'src/http/app.ts',
        )
      ).join('\n'),
      /http\/ may not import demo\//,
    );
  });

  it('fails on an import cycle between files, through a lazy import too', async () => {
    const fixtures = 'test/fixtures/import-cycle';
    const results = await importLint([`${fixtures}/*.ts`]).lintFiles([fixtures]);
    const cycles = results.flatMap((r) =>
      r.messages
        .filter((m) => m.ruleId === 'import-x/no-cycle')
        .map(() => r.filePath.slice(r.filePath.lastIndexOf('/') + 1)),
    );
    assert.deepEqual(cycles.sort(), ['a.ts', 'b.ts', 'lazy-back.ts', 'lazy.ts']);
  });

  it('passes on the real src/ tree', async () => {
    const results = await importLint(['src/**/*.ts', 'src/**/*.tsx']).lintFiles(['src']);
    const problems = results.flatMap((r) =>
      r.messages.map((m) => `${r.filePath}:${m.line}: ${m.ruleId ?? 'parse'}: ${m.message}`),
    );
    assert.ok(results.length > 150, `linted only ${results.length} files`);
    assert.deepEqual(problems, []);
  });
});
