// `labslot demo` end to end: start it as a newcomer would, run the commands it
// prints exactly as printed, then Ctrl-C it and check that nothing it made is
// left: agent, job users, socat and pdudaemon processes, namespace, directory.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { READY_MARK } from '../src/demo/demo-instructions.js';
import { waitSlotsAvailable } from '../src/demo/wait-ready.js';
import type { SlotListView, SlotView } from './helpers/api-types.js';
import { LABSLOT_BIN, PROJECT_ROOT } from './helpers/cli.js';
import { eventually } from './helpers/eventually.js';
import { freePort } from './helpers/free-port.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';
import { tempDir } from './helpers/temp-dir.js';

const PREREQUISITES = [
  ROOT,
  command('socat', ['-V']),
  command('pdudaemon', ['--help']),
  command('ip', ['-V']),
  command('ping', ['-V']),
  command('setpriv', ['--version']),
  command('bwrap', ['--version']),
  command('useradd', ['--help']),
];

interface Shell {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one printed line the way a person pastes it into bash, from the repository root. */
function paste(line: string, env: Record<string, string>): Promise<Shell> {
  const child = spawn('bash', ['-c', line], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

/** Live children of `pid` with their command lines, read from /proc. */
function childrenOf(pid: number): Map<number, string> {
  const found = new Map<number, string>();
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 (ppid) comes after the parenthesised command name, which may contain spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid)
        found.set(Number(entry), readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim());
    } catch {
      // Exited while we looked.
    }
  }
  return found;
}

/** socat and pdudaemon processes whose command line names `dir` (their links and config live in it). */
function labProcessesIn(dir: string): string[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .flatMap((e) => {
      try {
        return [readFileSync(`/proc/${e}/cmdline`, 'utf8').replaceAll('\0', ' ')];
      } catch {
        return [];
      }
    })
    .filter((cmd) => cmd.includes(`${dir}/`) && /socat|pdudaemon/.test(cmd));
}

function stillRunning(pid: number, cmdline: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim() === cmdline;
  } catch {
    return false;
  }
}

function startDemo(
  t: TestContext,
  port: number,
  args: string[] = [],
  host = '127.0.0.1',
): { pid: number; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [LABSLOT_BIN, 'demo', '--listen', `${host}:${port}`, ...args], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(async () => {
    // A test that failed halfway still stops the demo, gracefully first so it removes its lab.
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  });
  assert.ok(child.pid !== undefined, 'the demo did not start');
  return { pid: child.pid, output: () => output, exited };
}

/** The exit code, or 'timeout' when the process has not exited within `ms`. */
function within(exited: Promise<number | null>, ms: number): Promise<number | null | 'timeout'> {
  return Promise.race([exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms).unref())]);
}

async function waitFor(
  what: string,
  condition: () => boolean,
  timeoutMs: number,
  context: () => string,
): Promise<void> {
  await eventually(condition, { timeoutMs, intervalMs: 50, message: () => `${what}; output so far:\n${context()}` });
}

describe('labslot demo', () => {
  it('comes up green, runs the printed commands for real, and leaves nothing behind on Ctrl-C', async (t) => {
    if (!requires(t, ...PREREQUISITES)) return;
    assert.ok(
      existsSync(join(PROJECT_ROOT, 'dist', 'cli', 'demo.js')),
      'dist/ is not built: run npm run build first (npm test does)',
    );
    const demo = startDemo(t, await freePort());
    const started = Date.now();
    await waitFor('ready block', () => /^Ctrl-C stops/m.test(demo.output()), 30_000, demo.output);
    const readyMs = Date.now() - started;
    const printed = demo.output();
    t.diagnostic(`ready after ${readyMs} ms`);
    assert.ok(printed.includes(READY_MARK), printed);

    const dir = /building the lab in (\S+)/.exec(printed)?.[1];
    const namespace = /network namespace (labslot-demo-[0-9a-f]+)/.exec(printed)?.[1];
    assert.ok(dir !== undefined && namespace !== undefined, printed);
    const env = Object.fromEntries(
      [...printed.matchAll(/^ {2}export (\w+)=(\S+)$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']),
    );
    assert.deepEqual(Object.keys(env).sort(), ['DEMO_OPERATOR_TOKEN', 'LABSLOT_TOKEN', 'LABSLOT_URL']);
    const url = env['LABSLOT_URL'] ?? '';
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    // The commands, in the order printed: every indented line that runs labslot.
    const commands = [...printed.matchAll(/^ {2}((?:node \S+labslot\.js|labslot) .+)$/gm)].map((m) => m[1] ?? '');
    assert.equal(commands.length, 5, `expected 5 commands, got:\n${commands.join('\n')}`);
    const [slotsCommand, helloJob, brokenJob, slotsAgain, release] = commands as [
      string,
      string,
      string,
      string,
      string,
    ];

    const slots = async (): Promise<SlotView[]> =>
      ((await (await fetch(`${url}/v1/slots`, { signal: AbortSignal.timeout(10_000) })).json()) as SlotListView).slots;
    const before = await slots();
    assert.deepEqual(
      before.map((s) => [s.name, s.health, s.available]),
      [
        ['demo-1', 'healthy', true],
        ['demo-2', 'healthy', true],
        ['demo-3', 'healthy', true],
      ],
    );
    assert.equal(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(namespace), true);
    // The printed status page and metrics answer.
    const statusUrl = /^ {2}status page\s+(\S+)/m.exec(printed)?.[1] ?? '';
    assert.equal(statusUrl, `${url}/`);
    const page = await fetch(statusUrl, { signal: AbortSignal.timeout(10_000) });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /demo-3/);
    const metrics = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(metrics.status, 200);
    await metrics.body?.cancel();

    // What the demo runs besides itself: three socat consoles and pdudaemon, each its own child.
    const children = childrenOf(demo.pid);
    const lab = [...children].filter(([, cmd]) => /^socat |pdudaemon/.test(cmd));
    assert.equal(lab.filter(([, cmd]) => cmd.startsWith('socat ')).length, 3, JSON.stringify([...children]));
    assert.equal(lab.filter(([, cmd]) => cmd.includes('pdudaemon')).length, 1, JSON.stringify([...children]));

    const listed = await paste(slotsCommand, env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /demo-1\s+demo-board\s+idle\s+-\s+healthy/);
    assert.match(listed.stdout, /demo-2\s+demo-board\s+idle\s+-\s+healthy\s+demo-3/);

    const hello = await paste(helloJob, env);
    assert.equal(hello.code, 0, hello.stderr);
    assert.match(hello.stdout, /^hello from demo-1$/m);
    assert.match(hello.stdout, /^LABSLOT_DEVICE_DEMO_1_CONSOLE=\/dev\/labslot\/demo-1-console$/m);
    assert.match(hello.stdout, /demo-1-console/);

    const broken = await paste(brokenJob, env);
    assert.equal(broken.code, 1, `a job that marks its slot broken fails as infrastructure: ${broken.stderr}`);
    assert.match(broken.stderr, /marked broken: console wedged on demo-1/);
    const held = (await slots()).find((s) => s.name === 'demo-1');
    assert.equal(held?.hold?.source, 'job');
    assert.equal(held.hold.reason, 'console wedged on demo-1');
    assert.ok(held.hold.job_id, 'the hold names the job');

    const listedAgain = await paste(slotsAgain, env);
    assert.equal(listedAgain.code, 0, listedAgain.stderr);
    assert.match(
      listedAgain.stdout,
      /demo-1\s+demo-board\s+idle\s+HELD\s+healthy\s+-\s+held by job .*console wedged on demo-1/,
    );

    const released = await paste(release, env);
    assert.equal(released.code, 0, released.stderr);
    assert.match(released.stdout, /demo-1 released; fresh check: healthy/);
    assert.equal((await slots()).find((s) => s.name === 'demo-1')?.hold, null);

    process.kill(demo.pid, 'SIGINT');
    assert.equal(await within(demo.exited, 30_000), 0, `the demo did not stop cleanly:\n${demo.output()}`);
    assert.match(demo.output(), /labslot demo: stopped; the lab is gone/);

    assert.equal(
      execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(namespace),
      false,
      `namespace ${namespace} is left`,
    );
    const left = lab.filter(([pid, cmd]) => stillRunning(pid, cmd));
    assert.deepEqual(left, [], 'socat or pdudaemon outlived the demo');
    const users = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('ls-') && line.includes(`:${dir}/`));
    assert.deepEqual(users, [], 'job users outlived the demo');
    assert.equal(existsSync(dir), false, `${dir} was not removed`);
  });

  it('undoes what it built when the start fails halfway (the port is taken): exit 1, nothing left', async (t) => {
    if (!requires(t, ...PREREQUISITES)) return;
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => taken.close(resolve)));
    const port = (taken.address() as AddressInfo).port;
    const result = await paste(`${process.execPath} ${LABSLOT_BIN} demo --listen 127.0.0.1:${port}`, {});
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.match(result.stdout, /labslot demo: cleaning up/);
    const dir = /building the lab in (\S+)/.exec(result.stdout)?.[1];
    assert.ok(dir !== undefined, result.stdout);
    assert.equal(existsSync(dir), false, `${dir} was not removed`);
    assert.deepEqual(labProcessesIn(dir), [], 'socat or pdudaemon outlived the failed start');
    // Only this demo's namespace: another demo may be running on the host.
    const namespace = /removing network namespace (labslot-demo-[0-9a-f]+)/.exec(result.stdout)?.[1];
    assert.ok(namespace !== undefined, `the cleanup names the namespace it removes: ${result.stdout}`);
    assert.equal(
      execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(namespace),
      false,
      `namespace ${namespace} is left`,
    );
  });

  it('keeps --dir with its config, log and state (holds survive into the next run), and still removes the lab', async (t) => {
    if (!requires(t, ...PREREQUISITES)) return;
    const parent = tempDir(t);
    // Job users reach their directories in the state directory: every parent needs o+x.
    chmodSync(parent, 0o755);
    const dir = join(parent, 'lab');
    const ready = /^Ctrl-C stops/m;

    const first = startDemo(t, await freePort(), ['--dir', dir]);
    await waitFor('ready block', () => ready.test(first.output()), 30_000, first.output);
    assert.match(first.output(), new RegExp(`removes the lab's processes, users and namespace; ${dir} stays`));
    const namespace = /network namespace (labslot-demo-[0-9a-f]+)/.exec(first.output())?.[1] ?? 'none';
    const url = /^ {2}export LABSLOT_URL=(\S+)$/m.exec(first.output())?.[1] ?? '';
    const operator = /^ {2}export DEMO_OPERATOR_TOKEN=(\S+)$/m.exec(first.output())?.[1] ?? '';
    const hold = await fetch(`${url}/v1/slots/demo-3/hold`, {
      method: 'POST',
      headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'kept across demo runs' }),
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(hold.status, 200);
    process.kill(first.pid, 'SIGINT');
    assert.equal(await within(first.exited, 30_000), 0, first.output());
    for (const kept of ['slots.toml', 'agent.log', 'state/labslot.db'])
      assert.ok(existsSync(join(dir, kept)), `${kept} is not kept`);
    assert.equal(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(namespace), false);
    assert.deepEqual(labProcessesIn(dir), []);

    // The same --dir again: a new lab, new tokens, the old state. A held slot does not keep it from being ready.
    const second = startDemo(t, await freePort(), ['--dir', dir]);
    await waitFor('ready block', () => ready.test(second.output()), 30_000, second.output);
    const secondUrl = /^ {2}export LABSLOT_URL=(\S+)$/m.exec(second.output())?.[1] ?? '';
    const slot = (await (
      await fetch(`${secondUrl}/v1/slots/demo-3`, { signal: AbortSignal.timeout(10_000) })
    ).json()) as SlotView;
    assert.equal(slot.hold?.reason, 'kept across demo runs');
    assert.equal(slot.health, 'healthy');
    process.kill(second.pid, 'SIGINT');
    assert.equal(await within(second.exited, 30_000), 0, second.output());
    assert.deepEqual(labProcessesIn(dir), []);
  });

  it('comes up on a non-loopback --listen too, and closing the terminal (SIGHUP) takes the lab down like Ctrl-C', async (t) => {
    if (!requires(t, ...PREREQUISITES)) return;
    const demo = startDemo(t, await freePort(), [], '0.0.0.0');
    await waitFor('ready block', () => /^Ctrl-C stops/m.test(demo.output()), 30_000, demo.output);
    const dir = /building the lab in (\S+)/.exec(demo.output())?.[1] ?? 'none';
    const namespace = /network namespace (labslot-demo-[0-9a-f]+)/.exec(demo.output())?.[1] ?? 'none';
    assert.ok(labProcessesIn(dir).length > 0, 'the lab runs');
    process.kill(demo.pid, 'SIGHUP');
    assert.equal(await within(demo.exited, 30_000), 0, demo.output());
    assert.equal(existsSync(dir), false, `${dir} was not removed`);
    assert.deepEqual(labProcessesIn(dir), [], 'socat or pdudaemon outlived the hang-up');
    assert.equal(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(namespace), false);
  });

  it('refuses a --dir that socat or the shell would misread, before building anything', async (t) => {
    if (!requires(t, ROOT)) return;
    const odd = join(tempDir(t), 'my lab,v2');
    const result = await paste(`${process.execPath} ${LABSLOT_BIN} demo --dir '${odd}'`, {});
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stderr, /--dir ".*my lab,v2": use a path of letters, digits/);
    assert.equal(existsSync(odd), false);
  });

  it('says an agent that never answered never listed its slots, without naming the route', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    await assert.rejects(waitSlotsAvailable(url, 'token', 200, new AbortController().signal), {
      message: 'the demo slots were not ready within 0.2 s: the agent never listed its slots',
    });
  });

  it('refuses to run without root, with one line and exit 2', async (t) => {
    if (!requires(t, ROOT, command('setpriv', ['--version']))) return;
    // As nobody, the way a newcomer first tries it without sudo.
    const nobody = await paste(
      `setpriv --reuid=65534 --regid=65534 --clear-groups ${process.execPath} ${LABSLOT_BIN} demo`,
      {},
    );
    assert.equal(nobody.code, 2);
    assert.equal(nobody.stdout, '');
    assert.equal(
      nobody.stderr,
      'labslot: labslot demo needs root: it creates job users, a network namespace and device grants (try: sudo npm run demo)\n',
    );
  });
});
