// The hardened agent run as systemd/labslot.service runs it (its mount
// namespace, capability bounding set, environment and ExecStart argv, see
// helpers/systemd-unit.ts) on a small real lab: a job to completion, one past
// its timeout, their cleanups and a SIGTERM stop, with what it all did traced
// and held against the unit's system call filters, which cannot be applied
// without systemd. The unit file's own checks are in service-units.test.ts.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { SlotView } from './helpers/api-types.js';
import { LABSLOT_BIN, PROJECT_ROOT } from './helpers/cli.js';
import { eventually } from './helpers/eventually.js';
import { waitHealthy } from './helpers/job-lab.js';
import { assertNoLeaks } from './helpers/leak-check.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';
import { ptyPair } from './helpers/pty-pair.js';
import { emulation, last, list, readUnit, SECCOMP } from './helpers/systemd-unit.js';
import { SPAWNER_PATH } from '../src/platform/spawner-client.js';

const unitUrl = new URL('../systemd/labslot.service', import.meta.url);
const readText = (url: URL): string => readFileSync(url, 'utf8');

describe('systemd/labslot.service', () => {
  const service = readUnit(unitUrl).get('Service');

  it('runs a job to completion and one past its timeout, cleans both up and stops on SIGTERM, hardened as the unit says', async (t) => {
    if (
      !requires(
        t,
        ROOT,
        command('unshare'),
        command('setpriv', ['--version']),
        command('bwrap'),
        command('socat', ['-V']),
        command('useradd', ['--help']),
        command('strace', ['-V']),
        // What runs the account tools at real-time priority, which the trace is held to.
        {
          what: `the native spawner ${SPAWNER_PATH} (npm run build, with a C compiler)`,
          met: () => existsSync(SPAWNER_PATH),
        },
      )
    )
      return;
    assert.ok(service);
    await hardenedRun(t, service);
  });
});

const OPERATOR = 'unit-operator';
const SUBMITTER = 'unit-submitter';
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

async function hardenedRun(t: TestContext, service: Map<string, string[]>): Promise<void> {
  // Not under /tmp: PrivateTmp gives the agent its own. /var/lib is where StateDirectory= lives.
  const dir = mkdtempSync('/var/lib/labslot-unit-test-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  const stateDirectory = join(dir, 'state');
  mkdirSync(stateDirectory, { mode: 0o711 });
  const inaccessibleFile = join(dir, 'inaccessible');
  writeFileSync(inaccessibleFile, '', { mode: 0o000 });
  const traceFifo = join(dir, 'strace.fifo');
  const mkfifo = spawnSync('mkfifo', ['-m', '600', traceFifo], { encoding: 'utf8' });
  assert.equal(mkfifo.status, 0, mkfifo.stderr);
  const pty = await ptyPair(t, dir, 'con');
  const config = join(dir, 'slots.toml');
  writeFileSync(
    config,
    [
      `[agent]\nname = "unit-lab"\n[auth]\noperators = ["${sha256(OPERATOR)}"]\nsubmitters = ["${sha256(SUBMITTER)}"]`,
      '[health]\ninterval = "1h"\nfailure_threshold = 3\nsuccess_threshold = 1\n[jobs]\nstop_grace = "1s"',
      `[devices.con]\nkind = "serial"\npath = "${pty.device}"`,
      // setpriv to another user for a command check, and ping for an ipv6 one.
      '[devices.check]\nkind = "command"\nargv = ["true"]\nuser = "nobody"',
      '[devices.net]\nkind = "ipv6"\naddress = "::1"',
      '[slots.unit-1]\ntarget = "unit"\ndevices = ["con", "check", "net"]\n',
    ].join('\n'),
  );

  const projectStash = join(dir, 'project');
  mkdirSync(projectStash);
  const mountPoints = readText(new URL('file:///proc/self/mountinfo'))
    .split('\n')
    .filter(Boolean)
    .map((l) => (l.split(' ')[4] ?? '').replace(/\\040/g, ' '));
  const argv = emulation(service, {
    stateDirectory,
    program: LABSLOT_BIN,
    project: { root: PROJECT_ROOT.replace(/\/$/, ''), stash: projectStash },
    config,
    extraArgs: ['--listen', '127.0.0.1:0'],
    inaccessibleFile,
    mountPoints,
    // A FIFO opens for writing on a read-only file system, as the lab directory is inside.
    tracer: [
      'strace',
      '-f',
      '-qq',
      '-o',
      traceFifo,
      '-e',
      'trace=execve,socket,unshare,clone,clone3,setns,personality,sched_setscheduler,sched_setattr',
    ],
  });
  const [program, ...args] = argv;
  const child = spawn(program ?? 'unshare', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let trace = '';
  const traceDone = new Promise<void>((resolve) => {
    const pipe = createReadStream(traceFifo, { encoding: 'utf8' });
    pipe.on('data', (chunk: string | Buffer) => (trace += chunk.toString()));
    pipe.on('end', resolve);
    pipe.on('error', () => resolve());
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const agent: { pid?: number | undefined } = {};
  t.after(async () => {
    // The agent runs under strace, which leaves it running when strace is killed: the agent first.
    // Only while that pid is still this agent: its command line names this test's state directory.
    if (agent.pid !== undefined && readOr(`/proc/${agent.pid}/cmdline`).includes(stateDirectory))
      process.kill(agent.pid, 'SIGKILL');
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const port = await listeningPort(child.stdout, exited, () => stderr);
  // Written before it listens; read now, since the hooks that remove the lab directory may run first.
  const agentPid = pidIn(join(stateDirectory, 'agent.pid'));
  assert.ok(agentPid !== undefined, 'the agent wrote its pid file');
  agent.pid = agentPid;
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, 'unit-1', 15_000);

  const api = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${SUBMITTER}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    return (await response.json()) as Record<string, unknown>;
  };
  const run = async (body: Record<string, unknown>): Promise<{ job: Record<string, unknown>; output: string }> => {
    const { id } = (await api('POST', '/v1/jobs', { target: 'unit', ...body })) as { id: string };
    let last: Record<string, unknown> = {};
    const job = await eventually(
      async () => {
        last = await api('GET', `/v1/jobs/${id}`);
        return last['done'] === true && last;
      },
      {
        timeoutMs: 30_000,
        intervalMs: 50,
        message: () => `job ${id} to be done: ${JSON.stringify(last)}; agent stderr: ${stderr}`,
      },
    );
    const output = await (
      await fetch(`${url}/v1/jobs/${id}/output`, {
        headers: { authorization: `Bearer ${SUBMITTER}` },
        signal: AbortSignal.timeout(10_000),
      })
    ).text();
    await waitIdle(url, 'unit-1');
    return { job, output };
  };

  // A job that leaves a sticky directory behind: only CAP_FOWNER lets root delete in it at cleanup.
  const done = await run({
    script:
      'echo "uid=$(id -u)"; grep ^CapBnd /proc/self/status; echo written > /work/file; cat /work/file; ls /dev/labslot; mkdir /work/sticky; chmod 1777 /work/sticky; touch /work/sticky/f',
  });
  assert.equal(done.job['exit_code'], 0, `job ${JSON.stringify(done.job)}, output ${done.output}`);
  assert.notEqual(/^uid=(\d+)$/m.exec(done.output)?.[1] ?? '0', '0', 'the job runs as its worker');
  assert.match(done.output, /^CapBnd:\s+0+$/m, 'the job has an empty bounding set');
  assert.match(done.output, /^written$/m);
  assert.match(done.output, /^con$/m, 'the slot console is in the sandbox');
  // A job past its timeout gets SIGTERM from the agent (another uid: CAP_KILL) before the cgroup is killed.
  const stopped = await run({
    script: "trap 'echo got-term; exit 3' TERM; echo started; sleep 600 & wait",
    timeout: '2s',
  });
  assert.match(stopped.output, /^got-term$/m, `the job saw SIGTERM: ${JSON.stringify(stopped.job)}`);

  // systemd's stop (KillMode=mixed): SIGTERM to the main process only.
  process.kill(agentPid, 'SIGTERM');
  const code = await within(exited, 30_000);
  assert.equal(code, 0, `agent exit after SIGTERM; stderr: ${stderr}`);
  assert.doesNotMatch(
    stderr,
    /EROFS|EACCES|EPERM|Operation not permitted|Read-only file system/,
    'nothing was refused',
  );
  // Started by the unit's emulation, not startAgent, so its leak check is here: the hardened agent cleaned up too.
  await assertNoLeaks({ stateDir: stateDirectory });

  await within(traceDone, 5_000);
  checkTrace(trace, service);
}

function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The pid in a pid file, or undefined when there is none (the agent removes it when it stops). */
function pidIn(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The promise's value, or 'timeout' after `ms`; the timer does not outlive it. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Holds what the agent and its job did against the unit's system call filters. */
function checkTrace(trace: string, service: Map<string, string[]>): void {
  assert.ok(trace.includes('bwrap'), 'the trace covers the job');
  const families = new Set([...trace.matchAll(/\bsocket\((AF_\w+)/g)].map((m) => m[1]));
  const allowed = list(service, 'RestrictAddressFamilies');
  assert.deepEqual(
    [...families].filter((f) => f !== undefined && !allowed.includes(f)),
    [],
    'RestrictAddressFamilies= allows every family used',
  );
  const nsNames: Record<string, string> = {
    NEWNS: 'mnt',
    NEWPID: 'pid',
    NEWIPC: 'ipc',
    NEWUTS: 'uts',
    NEWCGROUP: 'cgroup',
    NEWNET: 'net',
    NEWUSER: 'user',
    NEWTIME: 'time',
  };
  const namespaces = new Set([...trace.matchAll(/CLONE_(NEW\w+)/g)].map((m) => nsNames[m[1] ?? ''] ?? m[1]));
  assert.ok(
    namespaces.has('mnt') && namespaces.has('pid'),
    `the trace shows the sandbox's namespaces: ${[...namespaces].join(' ')}`,
  );
  const restricted = list(service, 'RestrictNamespaces');
  assert.deepEqual(
    [...namespaces].filter((n) => n !== undefined && !restricted.includes(n)),
    [],
    'RestrictNamespaces= allows every namespace created',
  );
  if (last(service, 'LockPersonality') === 'yes') {
    // Reading the personality (0xffffffff) is allowed; changing it is not.
    assert.deepEqual(
      [...trace.matchAll(/\bpersonality\(([^)]*)\)/g)].map((m) => m[1]).filter((arg) => arg !== '0xffffffff'),
      [],
      'no personality change',
    );
  }
  if (last(service, 'RestrictRealtime') === 'yes')
    assert.doesNotMatch(trace, /sched_set\w+\([^)]*SCHED_(FIFO|RR|DEADLINE)/);
  // The unit lets the spawner run the account tools at real-time priority (CAP_SYS_NICE): they got it.
  else
    assert.match(trace, /sched_setscheduler\(0, SCHED_FIFO, \[1\]\) = 0/, 'useradd and userdel at real-time priority');
  if (last(service, 'SystemCallArchitectures') === 'native') {
    const executed = new Set([...trace.matchAll(/\bexecve\("([^"]+)".*= 0$/gm)].map((m) => m[1] ?? ''));
    assert.ok(executed.size > 3, `execs seen: ${[...executed].join(' ')}`);
    const native = elfMachine(process.execPath);
    for (const file of executed) {
      const machine = elfMachine(file);
      if (machine !== undefined) assert.equal(machine, native, `${file} is not a native binary`);
    }
  }
  // A filter added to the unit needs its check here too.
  const checked = [
    'RestrictAddressFamilies',
    'RestrictNamespaces',
    'LockPersonality',
    'RestrictRealtime',
    'SystemCallArchitectures',
  ];
  assert.deepEqual(
    [...SECCOMP].filter((k) => !checked.includes(k)),
    [],
  );
}

/** ELF class and machine of a binary ("2/62" is 64-bit x86-64); undefined for a script. */
function elfMachine(path: string): string | undefined {
  const header = Buffer.alloc(20);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, header, 0, 20, 0);
  } finally {
    closeSync(fd);
  }
  if (header.readUInt32BE(0) !== 0x7f454c46) return undefined;
  return `${header[4] ?? 0}/${header.readUInt16LE(18)}`;
}

/** Cleanup ran under the same hardening: the slot is idle again, without a system hold from a failed cleanup. */
async function waitIdle(url: string, name: string): Promise<void> {
  let last: SlotView | undefined;
  const slot = await eventually(
    async () => {
      last = (await (
        await fetch(`${url}/v1/slots/${name}`, { signal: AbortSignal.timeout(5_000) })
      ).json()) as SlotView;
      return last.usage === 'idle' && last;
    },
    { timeoutMs: 15_000, intervalMs: 50, message: () => `slot ${name} to be idle: ${JSON.stringify(last)}` },
  );
  assert.equal(slot.hold, null, `no hold: ${JSON.stringify(slot.hold)}`);
}

async function listeningPort(
  stdout: NodeJS.ReadableStream,
  exited: Promise<number | null>,
  stderr: () => string,
): Promise<number> {
  let buffered = '';
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent did not listen within 20 s; stderr: ${stderr()}`)), 20_000);
    stdout.setEncoding('utf8');
    stdout.on('data', (chunk: string) => {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          if (entry['msg'] === 'agent listening' && typeof entry['port'] === 'number') {
            clearTimeout(timer);
            resolve(entry['port']);
          }
        } catch {
          // Not a log line.
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`agent exited with ${String(code)} before listening; stderr: ${stderr()}`));
    });
  });
}
