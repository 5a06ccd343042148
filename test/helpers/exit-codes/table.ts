// The exit-code table of README.md ("### Exit codes") read row by row, and the
// walk that holds a group of scenarios against it. The scenarios live beside
// this file, one module per group (offline, lab, agent), each walked by its own
// test file; test/cli-exit-codes.test.ts checks that every row has exactly one
// scenario among the groups, so the README and the CLI cannot drift apart.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, type CliResult } from '../cli.js';
import { NOT_IN_A_JOB } from '../job-cli.js';

export interface Row {
  command: string;
  when: string;
  exit: number;
}

/** What one run ended with; `output` is what to show when it is not what the table says. */
export interface Outcome {
  code: number | null;
  output: string;
  /** The stderr of a CLI run, whose lines must all carry the prefix when it failed. */
  stderr?: string;
}

/** How one row is brought about: the runs whose exits must all be the row's. */
export interface Scenario<Context> {
  run: (c: Context) => Promise<Outcome[]>;
}

/** The scenario of each row of one group, keyed by its command and its "when", exactly as the README words them. */
export type Scenarios<Context> = Map<string, Scenario<Context>>;

// NOT_IN_A_JOB: the variables a job has, and a config the caller's shell may point at: none of them may leak in.
export async function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): Promise<Outcome> {
  const result: CliResult = await runCli(args, { env: { ...NOT_IN_A_JOB, ...env }, timeoutMs });
  return {
    code: result.code,
    output: `labslot ${args.join(' ')}\n${result.stderr}${result.stdout}`,
    stderr: result.stderr,
  };
}

/** The README's table, row by row. */
export function readTable(): Row[] {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('\n### Exit codes\n');
  assert.ok(start >= 0, 'README.md has no "### Exit codes" section');
  const section = readme
    .slice(start + 1)
    .split('\n')
    .slice(1);
  const end = section.findIndex((line) => /^#{1,3} /.test(line));
  const rows = (end < 0 ? section : section.slice(0, end)).filter((line) => line.startsWith('| `labslot'));
  return rows.map((line) => {
    const cells = line.replace(/^\|\s*|\s*\|$/g, '').split(/\s+\|\s+/);
    assert.equal(cells.length, 3, `not a row of three cells: ${line}`);
    const [cmd = '', when = '', exit = ''] = cells;
    const code = /^`(\d+)`$/.exec(exit)?.[1];
    assert.ok(code !== undefined, `the exit cell is not a backticked number: ${line}`);
    return { command: cmd.replace(/^`|`$/g, ''), when, exit: Number(code) };
  });
}

export const key = (row: Pick<Row, 'command' | 'when'>): string => `${row.command} — ${row.when}`;

/** A lab of one slot whose only device is a command check: `true` (healthy) or `false`. */
export function writeConfig(dir: string, name: string, argv: string): string {
  const file = join(dir, `${name}.toml`);
  writeFileSync(
    file,
    `[agent]\nname = "${name}"\nstate_dir = "${join(dir, `${name}-state`)}"\n[devices.${name}-check]\nkind = "command"\nargv = ["${argv}"]\n[slots.${name}-1]\ntarget = "${name}"\ndevices = ["${name}-check"]\n`,
  );
  return file;
}

export function badConfig(dir: string): string {
  const file = join(dir, 'bad.toml');
  writeFileSync(file, '[slots.gimlet-1]\ntarget = 1\ndevices = ["missing"]\n');
  return file;
}

/** Runs the rows that have a scenario in `scenarios` a few at a time and checks every outcome against its row. */
export async function walk<Context>(scenarios: Scenarios<Context>, context: Context): Promise<void> {
  const mine = readTable().filter((row) => scenarios.has(key(row)));
  assert.ok(mine.length > 0, 'no rows of this group in the README');
  const queue = [...mine];
  const failures: string[] = [];
  const worker = async (): Promise<void> => {
    for (let row = queue.shift(); row !== undefined; row = queue.shift()) {
      const scenario = scenarios.get(key(row));
      assert.ok(scenario);
      for (const outcome of await scenario.run(context)) {
        if (outcome.code !== row.exit)
          failures.push(`${key(row)}: exit ${String(outcome.code)}, the README says ${row.exit}\n${outcome.output}`);
        const stray = (outcome.stderr ?? '')
          .split('\n')
          .filter((line) => line !== '' && !line.startsWith('labslot: ') && !/^\/\S+\.toml:/.test(line));
        if (outcome.code !== 0 && stray.length > 0)
          failures.push(`${key(row)}: lines without the "labslot: " prefix: ${JSON.stringify(stray)}`);
      }
    }
  };
  // Four at a time: the CLI is a fresh Node process per run, and the host is shared.
  await Promise.all([worker(), worker(), worker(), worker()]);
  assert.deepEqual(failures, []);
}
