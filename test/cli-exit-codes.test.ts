// The exit-code table of README.md ("### Exit codes") is the contract; this
// test reads it and walks every row against the built CLI: offline for usage
// and config errors, against a real agent on real PTY consoles for the client
// commands (jobs run as real throwaway users), and the agent command itself.
// A row without a scenario here, or a scenario without its row, fails, so the
// README and the CLI cannot drift apart. Each failing line must also carry the
// one prefix, "labslot: ".
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { startAgent } from './helpers/agent-process.js';
import { runCli, type CliResult } from './helpers/cli.js';
import { freePort } from './helpers/free-port.js';
import { NOT_IN_A_JOB } from './helpers/job-cli.js';
import { jobLab, OPERATOR_TOKEN, SUBMITTER_TOKEN, type JobLab } from './helpers/job-lab.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';
import { tempDir } from './helpers/temp-dir.js';

interface Row {
  command: string;
  when: string;
  exit: number;
}

/** What one run ended with; `output` is what to show when it is not what the table says. */
interface Outcome {
  code: number | null;
  output: string;
  /** The stderr of a CLI run, whose lines must all carry the prefix when it failed. */
  stderr?: string;
}

type Group = 'offline' | 'lab' | 'agent';

interface OfflineContext {
  dir: string;
  good: string;
  unhealthy: string;
  bad: string;
}

interface LabContext {
  lab: JobLab;
  operator: NodeJS.ProcessEnv;
  submitter: NodeJS.ProcessEnv;
  /** A job that succeeded and kept no outputs. */
  done: string;
  /** A job that succeeded and kept a file under $LABSLOT_OUTPUT. */
  withOutputs: string;
}

interface AgentContext {
  t: TestContext;
  dir: string;
  good: string;
  bad: string;
}

type Scenario =
  | { group: 'offline'; run: (c: OfflineContext) => Promise<Outcome[]> }
  | { group: 'lab'; run: (c: LabContext) => Promise<Outcome[]> }
  | { group: 'agent'; run: (c: AgentContext) => Promise<Outcome[]> };

// NOT_IN_A_JOB: the variables a job has, and a config the caller's shell may point at: none of them may leak in.
async function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): Promise<Outcome> {
  const result: CliResult = await runCli(args, { env: { ...NOT_IN_A_JOB, ...env }, timeoutMs });
  return {
    code: result.code,
    output: `labslot ${args.join(' ')}\n${result.stderr}${result.stdout}`,
    stderr: result.stderr,
  };
}

/** The README's table, row by row. */
function readTable(): Row[] {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
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

const key = (row: Pick<Row, 'command' | 'when'>): string => `${row.command} — ${row.when}`;

/** The scenario of each row, keyed by its command and its "when", exactly as the README words them. */
const SCENARIOS = new Map<string, Scenario>([
  // Usage errors and what needs no agent.
  ['labslot --version — always', { group: 'offline', run: async () => [await cli(['--version'])] }],
  [
    'labslot job run --help — the help of any command',
    {
      group: 'offline',
      run: async () => [
        await cli(['job', 'run', '--help']),
        await cli(['--help']),
        await cli(['slot', 'hold', '--help']),
      ],
    },
  ],
  [
    'labslot nope — an unknown command',
    { group: 'offline', run: async () => [await cli(['nope']), await cli(['job', 'nope'])] },
  ],
  [
    'labslot slots --jsn — an unknown option, with a suggestion',
    { group: 'offline', run: async () => [await cli(['slots', '--jsn']), await cli(['job', 'list', '--tagret', 'x'])] },
  ],
  [
    'labslot job status — a missing argument or required option',
    {
      group: 'offline',
      run: async () => [
        await cli(['job', 'status']),
        await cli(['job', 'run', '--', 'true']),
        await cli(['slot', 'hold', 'gimlet-1']),
      ],
    },
  ],
  [
    "labslot slots — nothing listens at the agent's URL (the same for every client command)",
    {
      group: 'offline',
      run: async () => {
        const env = { LABSLOT_URL: `http://127.0.0.1:${await freePort()}`, LABSLOT_TOKEN: 'x' };
        const commands = [
          ['slots'],
          ['slot', 'hold', 's1', '-m', 'x'],
          ['slot', 'release', 's1'],
          ['job', 'status', 'j1'],
          ['job', 'list'],
          ['job', 'cancel', 'j1'],
          ['job', 'outputs', 'j1', '-o', '/nonexistent/out'],
        ];
        return [
          ...(await Promise.all(commands.map((args) => cli(args, env)))),
          await cli(['worker', 'mark-broken', '-m', 'x'], { ...env, LABSLOT_WORKER: 'w1' }),
        ];
      },
    },
  ],
  [
    'labslot slots --url nope — `--url` or `$LABSLOT_URL` is not a URL',
    {
      group: 'offline',
      run: async () => [await cli(['slots', '--url', 'nope']), await cli(['job', 'list'], { LABSLOT_URL: 'nope' })],
    },
  ],
  [
    'labslot slots — no `--url`, no `$LABSLOT_URL`, and no config file to take `agent.listen` from',
    {
      group: 'offline',
      run: async () => [await cli(['slots']), await cli(['job', 'list', '-c', '/nonexistent/slots.toml'])],
    },
  ],
  [
    'labslot job run --target TARGET --env NOEQUALS -- true — a bad argument (`--env`, `--timeout`, `--priority`, `--input`, `--archive`): nothing is sent',
    {
      group: 'offline',
      run: async () => {
        // Nothing listens at this URL: a command that got as far as the network would exit 1.
        const env = { LABSLOT_URL: `http://127.0.0.1:${await freePort()}`, LABSLOT_TOKEN: 'x' };
        const bad = [
          ['--env', 'NOEQUALS'],
          ['--timeout', '10 min'],
          ['--priority', 'high'],
          ['--input', '/nonexistent/dir'],
          ['--archive', 'sp=x.zip'],
        ];
        return Promise.all(
          bad.map((options) => cli(['job', 'run', '--target', 'gimlet', ...options, '--', 'true'], env)),
        );
      },
    },
  ],
  [
    'labslot job list --state nope — not a job state',
    {
      group: 'offline',
      run: async () => [
        await cli(['job', 'list', '--state', 'nope'], { LABSLOT_URL: `http://127.0.0.1:${await freePort()}` }),
      ],
    },
  ],
  [
    'labslot worker mark-broken -m MESSAGE — outside a job: `LABSLOT_WORKER` and friends are not set',
    {
      group: 'offline',
      run: async () => [
        await cli(['worker', 'mark-broken', '-m', 'x']),
        await cli(['worker', 'mark-broken', '-m', 'x'], { LABSLOT_URL: 'http://127.0.0.1:8421', LABSLOT_TOKEN: 'x' }),
      ],
    },
  ],
  [
    'labslot config validate -c FILE — the config is valid',
    {
      group: 'offline',
      run: async (c) => [
        await cli(['config', 'validate', '-c', c.good]),
        await cli(['config', 'validate', '-c', c.good, '--json']),
      ],
    },
  ],
  [
    'labslot config validate -c FILE — the config has problems, or the file cannot be read',
    {
      group: 'offline',
      run: async (c) => [
        await cli(['config', 'validate', '-c', c.bad]),
        await cli(['config', 'validate', '-c', join(c.dir, 'missing.toml')]),
      ],
    },
  ],
  [
    'labslot check -c FILE — every device is healthy',
    { group: 'offline', run: async (c) => [await cli(['check', '-c', c.good])] },
  ],
  [
    'labslot check -c FILE — a device is unhealthy',
    {
      group: 'offline',
      run: async (c) => [await cli(['check', '-c', c.unhealthy]), await cli(['check', '-c', c.unhealthy, '--json'])],
    },
  ],
  [
    'labslot check -c FILE --slot nope — no slot of that name',
    { group: 'offline', run: async (c) => [await cli(['check', '-c', c.good, '--slot', 'nope'])] },
  ],
  [
    'labslot udev-rules -c FILE — the rules are printed',
    { group: 'offline', run: async (c) => [await cli(['udev-rules', '-c', c.good])] },
  ],
  [
    'labslot udev-rules -c FILE — the config has problems',
    { group: 'offline', run: async (c) => [await cli(['udev-rules', '-c', c.bad])] },
  ],
  [
    'labslot demo --listen nope — a bad `--listen`',
    { group: 'offline', run: async () => [await cli(['demo', '--listen', 'nope'])] },
  ],

  // Client commands against a real agent.
  [
    'labslot slots — the agent answers',
    {
      group: 'lab',
      run: async (c) => [await cli(['slots'], c.submitter), await cli(['slots', '--json'], c.submitter)],
    },
  ],
  [
    'labslot slot hold SLOT -m REASON — the slot was not held; now it is',
    {
      group: 'lab',
      run: async (c) => {
        await c.lab.post('/v1/slots/sidecar-1/release', {}, OPERATOR_TOKEN);
        await c.lab.post('/v1/slots/sidecar-5/release', {}, OPERATOR_TOKEN);
        return [
          await cli(['slot', 'hold', 'sidecar-1', '-m', 'reseating the probe'], c.operator),
          await cli(['slot', 'hold', 'sidecar-5', '-m', 'reseating', '--json'], c.operator),
        ];
      },
    },
  ],
  [
    'labslot slot hold SLOT -m REASON — the slot is held already (and no `--replace`)',
    {
      group: 'lab',
      run: async (c) => {
        await c.lab.post('/v1/slots/sidecar-2/hold', { reason: 'first' }, OPERATOR_TOKEN);
        return [await cli(['slot', 'hold', 'sidecar-2', '-m', 'second'], c.operator)];
      },
    },
  ],
  [
    "labslot slot hold SLOT -m REASON — no token, or not an operator's",
    {
      group: 'lab',
      run: async (c) => [
        await cli(['slot', 'hold', 'sidecar-3', '-m', 'x'], { ...c.operator, LABSLOT_TOKEN: '' }),
        await cli(['slot', 'hold', 'sidecar-3', '-m', 'x'], c.submitter),
      ],
    },
  ],
  [
    'labslot slot hold nope -m REASON — no slot of that name',
    { group: 'lab', run: async (c) => [await cli(['slot', 'hold', 'nope', '-m', 'x'], c.operator)] },
  ],
  [
    'labslot slot release SLOT — the slot was held; whatever its fresh check says',
    {
      group: 'lab',
      run: async (c) => {
        await c.lab.post('/v1/slots/sidecar-4/hold', { reason: 'to be released' }, OPERATOR_TOKEN);
        return [await cli(['slot', 'release', 'sidecar-4', '-m', 'fine again', '--json'], c.operator)];
      },
    },
  ],
  [
    'labslot slot release SLOT — the slot is not held',
    { group: 'lab', run: async (c) => [await cli(['slot', 'release', 'sidecar-3'], c.operator)] },
  ],
  [
    'labslot slot release nope — no slot of that name',
    { group: 'lab', run: async (c) => [await cli(['slot', 'release', 'nope'], c.operator)] },
  ],
  [
    'labslot job run --target TARGET -- true — the job succeeds',
    {
      group: 'lab',
      run: async (c) => [await cli(['job', 'run', '--target', 'gimlet', '--', 'true'], c.submitter, 90_000)],
    },
  ],
  [
    "labslot job run --target TARGET -- sh -c 'exit 3' — the job ends by its own exit code (1 to 255)",
    {
      group: 'lab',
      run: async (c) => [
        await cli(['job', 'run', '--target', 'gimlet', '--', 'sh', '-c', 'exit 3'], c.submitter, 90_000),
      ],
    },
  ],
  [
    "labslot job run --target TARGET --timeout 1s -- sleep 60 — the job times out, is killed by a signal or cancelled, or fails for the lab's reasons (`worker mark-broken`, setup)",
    {
      group: 'lab',
      run: async (c) => [
        await cli(['job', 'run', '--target', 'gimlet', '--timeout', '1s', '--', 'sleep', '60'], c.submitter, 90_000),
      ],
    },
  ],
  [
    'labslot job run --target nope -- true — no slot serves the target',
    { group: 'lab', run: async (c) => [await cli(['job', 'run', '--target', 'nope', '--', 'true'], c.submitter)] },
  ],
  [
    'labslot job submit --target TARGET -- true — the job is queued',
    {
      group: 'lab',
      run: async (c) => [
        await cli(['job', 'submit', '--target', 'gimlet', '--', 'true'], c.submitter),
        await cli(['job', 'submit', '--target', 'gimlet', '--json', '--', 'true'], c.submitter),
      ],
    },
  ],
  [
    'labslot job submit --target nope -- true — no slot serves the target',
    { group: 'lab', run: async (c) => [await cli(['job', 'submit', '--target', 'nope', '--', 'true'], c.submitter)] },
  ],
  [
    'labslot job status ID — the job exists, whatever its state (a failed job too)',
    {
      group: 'lab',
      run: async (c) => {
        const failed = await c.lab.submit({ target: 'gimlet', argv: ['false'] });
        await c.lab.waitDone(failed, 60_000);
        return [
          await cli(['job', 'status', c.done], c.submitter),
          await cli(['job', 'status', failed, '--json'], c.submitter),
        ];
      },
    },
  ],
  [
    'labslot job status nope — no such job',
    { group: 'lab', run: async (c) => [await cli(['job', 'status', 'nope'], c.submitter)] },
  ],
  [
    'labslot job logs ID — the job exists',
    {
      group: 'lab',
      run: async (c) => [
        await cli(['job', 'logs', c.done], c.submitter),
        await cli(['job', 'logs', '-f', c.done], c.submitter),
      ],
    },
  ],
  [
    'labslot job logs nope — no such job',
    { group: 'lab', run: async (c) => [await cli(['job', 'logs', 'nope'], c.submitter)] },
  ],
  [
    'labslot job outputs ID -o DIR — the job kept outputs',
    {
      group: 'lab',
      run: async (c) => {
        const dir = join(c.lab.dir, 'outputs');
        const fetched = await cli(['job', 'outputs', c.withOutputs, '-o', dir, '--json'], c.submitter);
        assert.equal(readFileSync(join(dir, 'result.txt'), 'utf8'), 'pass\n', fetched.output);
        return [fetched];
      },
    },
  ],
  [
    'labslot job outputs ID -o DIR — the job kept none, or has not finished',
    {
      group: 'lab',
      run: async (c) => [await cli(['job', 'outputs', c.done, '-o', join(c.lab.dir, 'none')], c.submitter)],
    },
  ],
  [
    'labslot job cancel ID — the job was queued or running',
    {
      group: 'lab',
      run: async (c) => {
        const id = await c.lab.submit({ target: 'gimlet', argv: ['sleep', '60'] });
        return [await cli(['job', 'cancel', id, '--json'], c.submitter)];
      },
    },
  ],
  [
    'labslot job cancel ID — the job is done already',
    { group: 'lab', run: async (c) => [await cli(['job', 'cancel', c.done], c.submitter)] },
  ],
  [
    'labslot job list — always, also when no job matches',
    {
      group: 'lab',
      run: async (c) => [
        await cli(['job', 'list'], c.submitter),
        await cli(['job', 'list', '--target', 'psc', '--state', 'cancelled', '--json'], c.submitter),
      ],
    },
  ],
  [
    'labslot job list --target nope — no slot serves the target, and no job ever had it',
    { group: 'lab', run: async (c) => [await cli(['job', 'list', '--target', 'nope'], c.submitter)] },
  ],
  [
    'labslot worker mark-broken -m MESSAGE — inside a job: its slot is held',
    {
      group: 'lab',
      run: async (c) => {
        // The job's own `labslot` (first on its PATH) reports its exit code in the job's output.
        const id = await c.lab.submit({
          target: 'psc',
          script: 'labslot worker mark-broken -m "probe gone"\necho "exit=$?"',
        });
        const job = await c.lab.waitDone(id, 60_000);
        const output = await c.lab.output(id);
        const code = /^exit=(\d+)$/m.exec(output)?.[1];
        return [{ code: code === undefined ? null : Number(code), output: `job ${JSON.stringify(job)}\n${output}` }];
      },
    },
  ],
  [
    "labslot worker mark-broken -m MESSAGE — the agent refuses the token (not this job's, or its job has ended)",
    {
      group: 'lab',
      run: async (c) => [
        await cli(['worker', 'mark-broken', '-m', 'x'], {
          LABSLOT_URL: c.lab.agent.url,
          LABSLOT_TOKEN: 'not-a-worker-token',
          LABSLOT_WORKER: 'w-none',
          LABSLOT_SLOT: 'psc-1',
        }),
      ],
    },
  ],

  // The agent itself.
  [
    'labslot agent -c FILE — stopped by SIGTERM or SIGINT',
    {
      group: 'agent',
      run: async (c) => {
        const byTerm = await startAgent(c.t, { config: c.good, stateDir: join(c.dir, 'state-term') });
        const byInt = await startAgent(c.t, { config: c.good, stateDir: join(c.dir, 'state-int') });
        return [
          { code: await byTerm.stop('SIGTERM'), output: byTerm.stderr() },
          { code: await byInt.stop('SIGINT'), output: byInt.stderr() },
        ];
      },
    },
  ],
  [
    'labslot agent -c FILE — it cannot listen, open its database, or lock its state directory',
    {
      group: 'agent',
      run: async (c) => {
        const stateDir = join(c.dir, 'state-busy');
        const running = await startAgent(c.t, { config: c.good, stateDir });
        const damaged = join(c.dir, 'state-damaged');
        mkdirSync(damaged);
        writeFileSync(
          join(damaged, 'labslot.db'),
          'this is not a SQLite database, and it is long enough to have a header\n'.repeat(20),
        );
        return [
          await cli([
            'agent',
            '-c',
            c.good,
            '--state-dir',
            join(c.dir, 'state-other'),
            '--listen',
            `127.0.0.1:${running.port}`,
          ]),
          await cli(['agent', '-c', c.good, '--state-dir', stateDir, '--listen', '127.0.0.1:0']),
          await cli(['agent', '-c', c.good, '--state-dir', damaged, '--listen', '127.0.0.1:0']),
        ];
      },
    },
  ],
  [
    'labslot agent -c FILE — a bad config or `--listen`',
    {
      group: 'agent',
      run: async (c) => [
        await cli(['agent', '-c', c.bad, '--state-dir', join(c.dir, 'state-bad')]),
        await cli(['agent', '-c', c.good, '--state-dir', join(c.dir, 'state-bad'), '--listen', 'nope']),
      ],
    },
  ],
  [
    'labslot agent -c FILE — `[jobs] network = "slot"` (the default) on a host without a usable `nft`, or on illumos',
    {
      group: 'agent',
      run: async (c) => {
        // A PATH without nft: the agent runs nft as any other tool, through its PATH.
        const empty = join(c.dir, 'bin-without-nft');
        mkdirSync(empty, { recursive: true });
        return [
          await cli(['agent', '-c', c.good, '--state-dir', join(c.dir, 'state-no-nft'), '--listen', '127.0.0.1:0'], {
            PATH: empty,
          }),
        ];
      },
    },
  ],
]);

/** A lab of one slot whose only device is a command check: `true` (healthy) or `false`. */
function writeConfig(dir: string, name: string, argv: string): string {
  const file = join(dir, `${name}.toml`);
  writeFileSync(
    file,
    `[agent]\nname = "${name}"\nstate_dir = "${join(dir, `${name}-state`)}"\n[devices.${name}-check]\nkind = "command"\nargv = ["${argv}"]\n[slots.${name}-1]\ntarget = "${name}"\ndevices = ["${name}-check"]\n`,
  );
  return file;
}

function badConfig(dir: string): string {
  const file = join(dir, 'bad.toml');
  writeFileSync(file, '[slots.gimlet-1]\ntarget = 1\ndevices = ["missing"]\n');
  return file;
}

/** Runs the group's rows a few at a time (`run` gives each scenario its context) and checks every outcome against its row. */
async function walk(
  rows: readonly Row[],
  group: Group,
  run: (scenario: Scenario) => Promise<Outcome[]>,
): Promise<void> {
  const mine = rows.filter((row) => SCENARIOS.get(key(row))?.group === group);
  assert.ok(mine.length > 0, `no ${group} rows`);
  const queue = [...mine];
  const failures: string[] = [];
  const worker = async (): Promise<void> => {
    for (let row = queue.shift(); row !== undefined; row = queue.shift()) {
      const scenario = SCENARIOS.get(key(row));
      assert.ok(scenario);
      for (const outcome of await run(scenario)) {
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

function notMine(scenario: Scenario): never {
  throw new Error(`a ${scenario.group} scenario in another group's walk`);
}

describe('exit codes, as README.md tabulates them', () => {
  const rows = readTable();

  it('has a scenario here for every row of the table, and a row for every scenario', () => {
    assert.ok(rows.length >= 40, `only ${rows.length} rows`);
    const keys = rows.map(key);
    assert.deepEqual(
      keys.filter((k, i) => keys.indexOf(k) !== i),
      [],
      'rows that say the same twice',
    );
    assert.deepEqual(
      keys.filter((k) => !SCENARIOS.has(k)),
      [],
      'rows without a scenario in this test',
    );
    assert.deepEqual(
      [...SCENARIOS.keys()].filter((k) => !keys.includes(k)),
      [],
      'scenarios without a row in the README',
    );
  });

  it('usage, configuration and unreachable-agent rows, without an agent', async (t) => {
    const dir = tempDir(t);
    const context: OfflineContext = {
      dir,
      good: writeConfig(dir, 'good', 'true'),
      unhealthy: writeConfig(dir, 'sick', 'false'),
      bad: badConfig(dir),
    };
    await walk(rows, 'offline', (s) => (s.group === 'offline' ? s.run(context) : notMine(s)));
  });

  it('client rows, against a real agent that runs jobs', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']), command('bwrap', ['--version']))) return;
    const sidecars = [1, 2, 3, 4, 5].map((n) => ({ name: `sidecar-${n}`, target: 'sidecar' }));
    const lab = await jobLab(t, [
      { name: 'gimlet-1', target: 'gimlet' },
      ...sidecars,
      { name: 'psc-1', target: 'psc' },
    ]);
    const done = await lab.submit({ target: 'gimlet', argv: ['true'] });
    const withOutputs = await lab.submit({ target: 'gimlet', script: 'echo pass > "$LABSLOT_OUTPUT/result.txt"' });
    for (const id of [done, withOutputs]) assert.equal((await lab.waitDone(id, 60_000)).state, 'succeeded', id);
    const url = { LABSLOT_URL: lab.agent.url };
    const context: LabContext = {
      lab,
      done,
      withOutputs,
      operator: { ...url, LABSLOT_TOKEN: OPERATOR_TOKEN },
      submitter: { ...url, LABSLOT_TOKEN: SUBMITTER_TOKEN },
    };
    await walk(rows, 'lab', (s) => (s.group === 'lab' ? s.run(context) : notMine(s)));
  });

  it('agent rows: stopped, refused by the host, refused by its config', async (t) => {
    const dir = tempDir(t);
    const context: AgentContext = { t, dir, good: writeConfig(dir, 'agent', 'true'), bad: badConfig(dir) };
    await walk(rows, 'agent', (s) => (s.group === 'agent' ? s.run(context) : notMine(s)));
  });
});
