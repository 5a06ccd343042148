// Every malformed config in test/fixtures/bad-config is refused the way an
// operator needs it refused: exit 2, each problem on stderr with the file and
// where in it, nothing on stdout, no stack trace — by `config validate` and by
// `agent`, which must also leave its state directory untouched. The good
// configs (and the shipped example) validate with an exact one-line summary.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseToml } from 'toml';
import { configSchema } from '../src/config/schema.js';
import { allKeyPaths } from '../src/config/schema-keys.js';
import { hasStackTrace, PROJECT_ROOT, runCli } from './helpers/cli.js';
import type { CliResult } from './helpers/cli.js';
import { tempDir } from './helpers/temp-dir.js';

const BAD_DIR = 'test/fixtures/bad-config';
const GOOD_DIR = 'test/fixtures/good-config';
const MIN_FIXTURES = 30;
/** Each CLI run is a fresh Node process (~300 ms); a few at a time keeps the suite quick without starving the host. */
const CONCURRENCY = 4;

const fixtures = readdirSync(join(PROJECT_ROOT, BAD_DIR))
  .filter((f) => f.endsWith('.toml'))
  .sort();
const expected = readExpected(join(PROJECT_ROOT, BAD_DIR, 'expected.json'));

function readExpected(file: string): ReadonlyMap<string, readonly string[]> {
  const json: unknown = JSON.parse(readFileSync(file, 'utf8'));
  assert.ok(typeof json === 'object' && json !== null && !Array.isArray(json), `${file}: must be a JSON object`);
  const map = new Map<string, readonly string[]>();
  for (const [name, subs] of Object.entries(json)) {
    assert.ok(Array.isArray(subs) && subs.length > 0, `${file}: "${name}" must map to a non-empty list`);
    assert.ok(
      subs.every((s): s is string => typeof s === 'string' && s.length > 0),
      `${file}: "${name}" must list non-empty strings`,
    );
    map.set(name, subs);
  }
  return map;
}

function substringsFor(fixture: string): readonly string[] {
  const subs = expected.get(fixture);
  assert.ok(subs, `${fixture} has no entry in expected.json`);
  return subs;
}

/** Exit 2, every expected substring, every problem line naming the file, no stack trace. */
function assertRejected(result: CliResult, path: string, subs: readonly string[]): void {
  const context = `\n--- stderr ---\n${result.stderr}--- stdout ---\n${result.stdout}`;
  assert.equal(result.signal, null, `killed by ${String(result.signal)} (did it start?)${context}`);
  assert.equal(result.code, 2, `exit code${context}`);
  assert.equal(hasStackTrace(result.stderr), false, `stack trace on stderr${context}`);
  for (const sub of subs) assert.ok(result.stderr.includes(sub), `stderr lacks ${JSON.stringify(sub)}${context}`);
  const lines = result.stderr.trimEnd().split('\n');
  assert.match(lines.at(-1) ?? '', /^labslot: configuration rejected \(\d+ problems?\)$/, `summary line${context}`);
  const problems = lines.slice(0, -1);
  assert.ok(problems.length > 0, `no problem reported${context}`);
  for (const line of problems)
    assert.ok(line.startsWith(`${path}:`), `problem line does not name ${path}: ${JSON.stringify(line)}`);
}

describe('bad-config fixtures', () => {
  it(`has at least ${MIN_FIXTURES} fixtures, each with expectations in expected.json and no stale entries`, () => {
    assert.ok(fixtures.length >= MIN_FIXTURES, `only ${fixtures.length} fixtures in ${BAD_DIR}`);
    assert.deepEqual(
      fixtures.filter((f) => !expected.has(f)),
      [],
      'fixtures without an entry in expected.json',
    );
    assert.deepEqual(
      [...expected.keys()].filter((f) => !fixtures.includes(f)),
      [],
      'expected.json entries without a fixture',
    );
  });

  describe('labslot config validate', { concurrency: CONCURRENCY }, () => {
    for (const fixture of fixtures) {
      it(fixture, async () => {
        const path = `${BAD_DIR}/${fixture}`;
        const result = await runCli(['config', 'validate', '-c', path]);
        assertRejected(result, path, substringsFor(fixture));
        assert.equal(result.stdout, '', 'stdout must stay empty');
      });
    }
  });

  describe('labslot agent', { concurrency: CONCURRENCY }, () => {
    for (const fixture of fixtures) {
      it(fixture, async (t) => {
        const path = `${BAD_DIR}/${fixture}`;
        const root = tempDir(t);
        const result = await runCli(
          ['agent', '-c', path, '--state-dir', join(root, 'state'), '--listen', '127.0.0.1:0'],
          {
            timeoutMs: 10_000,
          },
        );
        assertRejected(result, path, substringsFor(fixture));
        assert.equal(result.stdout, '', 'no log lines: the agent must refuse before it starts logging');
        assert.deepEqual(readdirSync(root), [], 'the agent created something before refusing its config');
      });
    }
  });
});

interface Summary {
  file: string;
  slots: number;
  devices: number;
  targets: number;
}

const GOOD: readonly Summary[] = [
  { file: `${GOOD_DIR}/minimal.toml`, slots: 1, devices: 1, targets: 1 },
  { file: `${GOOD_DIR}/every-key.toml`, slots: 3, devices: 9, targets: 2 },
  { file: 'slots.example.toml', slots: 3, devices: 15, targets: 2 },
];

describe('good configs', { concurrency: CONCURRENCY }, () => {
  it('every good-config fixture is checked here', () => {
    const files = readdirSync(join(PROJECT_ROOT, GOOD_DIR)).filter((f) => f.endsWith('.toml'));
    assert.deepEqual(
      files.map((f) => `${GOOD_DIR}/${f}`).sort(),
      GOOD.map((g) => g.file)
        .filter((f) => f.startsWith(GOOD_DIR))
        .sort(),
    );
  });

  for (const good of GOOD) {
    it(`${good.file} validates: ${good.slots} slots, ${good.devices} devices, ${good.targets} targets`, async () => {
      const result = await runCli(['config', 'validate', '-c', good.file]);
      const context = `\n--- stderr ---\n${result.stderr}--- stdout ---\n${result.stdout}`;
      assert.equal(result.code, 0, `exit code${context}`);
      assert.equal(result.stderr, '', `no warnings expected${context}`);
      const lines = result.stdout.split('\n');
      assert.equal(lines.length, 2, `one line of output${context}`);
      assert.equal(lines[1], '');
      const match = /^(.+): ok: (\d+) slots?, (\d+) devices? \(\d+ shared\), (\d+) targets?: \S/.exec(lines[0] ?? '');
      assert.ok(match, `unexpected summary${context}`);
      const [, file, slots, devices, targets] = match;
      assert.deepEqual(
        { file, slots: Number(slots), devices: Number(devices), targets: Number(targets) },
        { file: good.file, slots: good.slots, devices: good.devices, targets: good.targets },
      );
    });
  }

  it('every-key.toml sets every key the schema knows', () => {
    const source = readFileSync(join(PROJECT_ROOT, GOOD_DIR, 'every-key.toml'), 'utf8');
    const present = keyPaths(parseToml(source) as unknown);
    assert.deepEqual(
      allKeyPaths(configSchema).filter((p) => !present.has(p)),
      [],
      'keys missing from every-key.toml',
    );
  });
});

/** Key paths of a parsed config in allKeyPaths' notation: `devices.<name>.vid`; env contents are values. */
function keyPaths(value: unknown, prefix = ''): Set<string> {
  const out = new Set<string>();
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Date) return out;
  for (const [key, child] of Object.entries(value)) {
    const named = prefix === 'devices' || prefix === 'slots';
    const here = named ? `${prefix}.<name>` : prefix === '' ? key : `${prefix}.${key}`;
    if (!named) out.add(here);
    if (!here.endsWith('.env')) for (const p of keyPaths(child, here)) out.add(p);
  }
  return out;
}
