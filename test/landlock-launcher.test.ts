// The Landlock launchers on their own, on this machine's kernel: the python3
// script (libexec/labslot-landlock) and the native one the build compiles
// from libexec/labslot-landlock.c pass the same suite. Each reports the
// Landlock ABI, scopes abstract Unix sockets when the kernel can (and runs the
// command unscoped when it cannot), hands the command default signal
// dispositions, and refuses to run the command when the scope cannot be
// applied; told that the agent found ABI 6 or later at start, it refuses even
// when the kernel's answer inside is ENOSYS or EOPNOTSUPP (a seccomp filter
// makes it so here), and says why where the job cannot write. Then the two
// against each other: the same ABI, separate domains.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  chooseLauncher,
  LANDLOCK_NATIVE_LAUNCHER,
  landlockAbi,
  landlockLauncher,
  type LandlockLauncher,
  landlockNote,
  landlockScope,
  nativeLauncher,
  pythonLauncher,
  SCOPE_ABI,
  SCOPE_REFUSED_EXIT,
} from '../src/platform/linux/landlock.js';
import {
  abstractName,
  CONNECT_PY,
  LANDLOCK_ABI,
  LISTEN_PY,
  listen,
  ON_KERNEL,
  SCOPED,
} from './helpers/abstract-socket.js';
import { command, IN_CI, type Prerequisite, requires } from './helpers/prerequisites.js';
import {
  C_COMPILER,
  ENOSYS,
  EOPNOTSUPP,
  EPERM,
  LANDLOCK_CREATE_RULESET,
  LANDLOCK_RESTRICT_SELF,
  syscallErrno,
  syscallNumber,
} from './helpers/syscall-errno.js';
import { tempDir } from './helpers/temp-dir.js';

// python3 runs the tests' socket clients and listeners whichever launcher is under test.
const PYTHON3 = command('python3');
const BUILT: Prerequisite = {
  what: `the native launcher ${LANDLOCK_NATIVE_LAUNCHER} (npm run build, with a C compiler)`,
  met: () => existsSync(LANDLOCK_NATIVE_LAUNCHER),
};

interface Implementation {
  name: string;
  launcher: LandlockLauncher;
  needs: Prerequisite[];
  /** How landlockAbi fails when the launcher is not where it is looked for. */
  missing: (path: string) => RegExp;
}

const IMPLEMENTATIONS: Implementation[] = [
  {
    name: 'python3',
    launcher: pythonLauncher(),
    needs: [PYTHON3],
    missing: (path) => new RegExp(`^python3 -I -S ${path} --abi failed \\(exit 2\\): .*can't open file`),
  },
  {
    name: 'native',
    launcher: nativeLauncher(),
    needs: [PYTHON3, BUILT],
    missing: (path) => new RegExp(`^cannot run ${path}: spawn ${path} ENOENT$`),
  },
];

const ABSENT = '/nonexistent/labslot-landlock';

function run(argv: string[], env?: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string } {
  const [program = 'false', ...args] = argv;
  const result = spawnSync(program, args, { encoding: 'utf8', timeout: 30_000, env });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The descriptor the tests give the launcher for its report, as the sandbox does. */
const REPORT_FD = 3;

/** run(), with a pipe at REPORT_FD: what came out of it, too. */
function runReported(argv: string[]): { status: number | null; stdout: string; stderr: string; report: string } {
  const [program = 'false', ...args] = argv;
  const result = spawnSync(program, args, {
    encoding: 'utf8',
    timeout: 30_000,
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  const report: unknown = result.output[REPORT_FD];
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, report: String(report) };
}

const REFUSED = 'the job does not start without its abstract-socket scope';

for (const { name: kind, launcher, needs, missing } of IMPLEMENTATIONS) {
  const LAUNCH = [...launcher.argv];
  // What the agent tells each job's launcher on this kernel (-1, a probe that failed, fails the tests below).
  const SCOPE = landlockScope(Math.max(LANDLOCK_ABI, 0), launcher);

  describe(`labslot-landlock, ${kind} (${ON_KERNEL})`, () => {
    it('--abi prints the ABI the agent logs at start', async (t) => {
      if (!requires(t, ...needs)) return;
      const printed = run([...LAUNCH, '--abi']);
      assert.equal(printed.status, 0, printed.stderr);
      assert.match(printed.stdout, /^\d+\n$/);
      assert.equal(await landlockAbi(undefined, launcher), Number(printed.stdout));
      assert.match(
        landlockNote(Number(printed.stdout), launcher).message,
        SCOPED
          ? /^landlock ABI \d+: abstract Unix sockets are scoped per job$/
          : /^kernel lacks Landlock ABI 6 \(has \d+\)/,
      );
      assert.equal(landlockNote(Number(printed.stdout), launcher).fields['launcher'], launcher.kind);
      t.diagnostic(`${ON_KERNEL}: ${landlockNote(LANDLOCK_ABI, launcher).message}`);
      // What keeps an agent from starting when it cannot tell (a launcher missing from the installation).
      const absent = launcher.kind === 'native' ? nativeLauncher(ABSENT) : pythonLauncher(ABSENT);
      await assert.rejects(landlockAbi(undefined, absent), { name: 'LandlockProbeError', message: missing(ABSENT) });
    });

    it(`${SCOPED ? 'refuses' : `(ABI < ${SCOPE_ABI}: fallback) allows`} a connection to an abstract socket made outside the command's domain`, async (t) => {
      if (!requires(t, ...needs)) return;
      const name = abstractName('outside');
      await listen(t, name);
      const plain = run(['python3', '-c', CONNECT_PY, name]);
      assert.equal(plain.stdout, 'connect=ok reply=from-outside\n', `control: the socket exists. ${plain.stderr}`);
      const scoped = run([...SCOPE, 'python3', '-c', CONNECT_PY, name]);
      assert.equal(scoped.status, 0, scoped.stderr);
      if (SCOPED) assert.equal(scoped.stdout, 'connect=EPERM\n');
      else {
        assert.equal(scoped.stdout, 'connect=ok reply=from-outside\n', 'an older kernel runs the command unscoped');
        t.diagnostic(`${ON_KERNEL} lacks ABI ${SCOPE_ABI}: asserted the documented fallback (unscoped)`);
      }
    });

    it("lets the command's own processes talk over their own abstract socket", (t) => {
      if (!requires(t, ...needs)) return;
      const name = abstractName('inside');
      // Both ends in the one domain: a listener in the background, and a client that stops it.
      const client = `python3 -c '${CONNECT_PY}' ${name} stop`;
      // The client retries until the background listener is up (at most 10 s).
      const script = `python3 -c '${LISTEN_PY}' ${name} inside & for i in $(seq 100); do out=$(${client}); [ "$out" != connect=ECONNREFUSED ] && break; sleep 0.1; done; echo "$out"; wait`;
      const inside = run([...SCOPE, 'sh', '-c', script]);
      assert.equal(inside.stdout, 'listening\nconnect=ok reply=from-inside\n', inside.stderr);
      assert.equal(inside.status, 0, inside.stderr);
    });

    it('hands the command default signal dispositions, whatever its parent ignored', (t) => {
      if (!requires(t, ...needs)) return;
      const ignored = run([...SCOPE, 'grep', '^SigIgn:', '/proc/self/status']);
      assert.equal(ignored.stdout, 'SigIgn:\t0000000000000000\n', ignored.stderr);
      // Ignored signals survive exec: a parent (python3 itself) that ignores SIGPIPE and SIGXFSZ does not pass that on.
      const inherited = run([
        'sh',
        '-c',
        'trap "" PIPE XFSZ; exec "$@"',
        'sh',
        ...SCOPE,
        'grep',
        '^SigIgn:',
        '/proc/self/status',
      ]);
      assert.equal(inherited.stdout, 'SigIgn:\t0000000000000000\n', inherited.stderr);
      // What a user would see: `yes` dying quietly of SIGPIPE, not complaining of a broken pipe.
      const pipe = run([...SCOPE, 'sh', '-c', 'yes | head -n 1']);
      assert.deepEqual({ stdout: pipe.stdout, stderr: pipe.stderr }, { stdout: 'y\n', stderr: '' });
    });

    it('does not run the command when the scope cannot be applied, or cannot be run, and says why', (t) => {
      if (!requires(t, ...needs)) return;
      // Landlock allows 16 nested domains: the 17th restrict_self fails (E2BIG), a real kernel refusal.
      const nested = Array.from({ length: 17 }, () => SCOPE).flat();
      const deep = run([...nested, 'echo', 'ran']);
      // Told an older ABI than the kernel has: scoped all the same, and failing closed as ever (exit 125).
      const unexpected = run([...Array.from({ length: 17 }, () => landlockScope(0, launcher)).flat(), 'echo', 'ran']);
      if (SCOPED) {
        const line = `labslot-landlock: landlock_restrict_self: Argument list too long: ${REFUSED}\n`;
        assert.deepEqual(deep, { status: SCOPE_REFUSED_EXIT, stdout: '', stderr: line }, 'the command never ran');
        assert.deepEqual(unexpected, { status: 125, stdout: '', stderr: line });
      } else {
        assert.equal(deep.stdout, 'ran\n', 'an older kernel has nothing to apply');
        t.diagnostic(`${ON_KERNEL} lacks ABI ${SCOPE_ABI}: asserted the documented fallback (unscoped)`);
      }
      const usage = run([...LAUNCH, '--scope', 'echo']);
      assert.deepEqual(usage, {
        status: 2,
        stdout: '',
        stderr:
          'labslot-landlock: usage: labslot-landlock --abi | --scope --expect-abi N [--report-fd FD] -- COMMAND [ARG...]\n',
      });
      assert.equal(run([...LAUNCH, '--abi', 'extra']).status, 2);
      // Never a scope without the ABI the agent expects, nor one that is not a number.
      assert.deepEqual(run([...LAUNCH, '--scope', '--', 'echo', 'ran']), usage);
      assert.deepEqual(run([...LAUNCH, '--scope', '--expect-abi', '', '--', 'echo', 'ran']), usage);
      assert.deepEqual(run([...LAUNCH, '--scope', '--expect-abi', '6x', '--', 'echo', 'ran']), usage);
      assert.deepEqual(run([...LAUNCH, '--scope', '--expect-abi', '6', '--']), usage);
      // A report that would go nowhere: the chain is broken, the command does not run.
      assert.deepEqual(run([...landlockScope(SCOPE_ABI, launcher, 9), 'echo', 'ran']), {
        status: 2,
        stdout: '',
        stderr: 'labslot-landlock: --report-fd 9: not an open descriptor\n',
      });
      const missingJob = run([...SCOPE, '/nonexistent/job']);
      assert.deepEqual(missingJob, {
        status: 127,
        stdout: '',
        stderr: 'labslot-landlock: cannot run /nonexistent/job: No such file or directory\n',
      });
      // On PATH but not executable, and nowhere else: that file's error, not "not found" (Python's os.execvp).
      const dir = tempDir(t);
      writeFileSync(join(dir, 'not-executable'), 'echo ran\n', { mode: 0o644 });
      const notExecutable = run([...SCOPE, 'not-executable'], { PATH: `${dir}:/usr/bin:/bin` });
      assert.deepEqual(notExecutable, {
        status: 127,
        stdout: '',
        stderr: 'labslot-landlock: cannot run not-executable: Permission denied\n',
      });
    });

    it('told the agent found ABI 6, refuses the command when a Landlock call fails inside, even with ENOSYS or EOPNOTSUPP, and reports why', (t) => {
      if (!requires(t, ...needs, C_COMPILER)) return;
      const under = syscallErrno(t);
      // The scope the agent expects from any kernel that had ABI 6 at its start, whatever this one has.
      const expecting = landlockScope(SCOPE_ABI, launcher, REPORT_FD);
      for (const [errno, text] of [
        [ENOSYS, 'Function not implemented'],
        [EOPNOTSUPP, 'Operation not supported'],
      ] as const) {
        const refused = runReported([...under(LANDLOCK_CREATE_RULESET, errno), ...expecting, 'echo', 'ran']);
        const line = `labslot-landlock: landlock_create_ruleset (ABI version): ${text}; the agent found ABI ${SCOPE_ABI} at start: ${REFUSED}\n`;
        assert.deepEqual(refused, { status: SCOPE_REFUSED_EXIT, stdout: '', stderr: line, report: line }, text);
      }
      // The ABI is there but the domain cannot be entered; an older kernel already says it lacks ABI 6.
      const restrict = runReported([...under(LANDLOCK_RESTRICT_SELF, EPERM), ...expecting, 'echo', 'ran']);
      const line = SCOPED
        ? `labslot-landlock: landlock_restrict_self: Operation not permitted: ${REFUSED}\n`
        : `labslot-landlock: the kernel reports Landlock ABI ${LANDLOCK_ABI}; the agent found ABI ${SCOPE_ABI} at start: ${REFUSED}\n`;
      assert.deepEqual(restrict, { status: SCOPE_REFUSED_EXIT, stdout: '', stderr: line, report: line });
    });

    it('told the agent found an ABI below 6, runs the command as it is where Landlock is missing', (t) => {
      if (!requires(t, ...needs, C_COMPILER)) return;
      const under = syscallErrno(t);
      for (const [abi, errno] of [
        [SCOPE_ABI - 1, ENOSYS],
        [0, EOPNOTSUPP],
      ] as const) {
        const ran = runReported([
          ...under(LANDLOCK_CREATE_RULESET, errno),
          ...landlockScope(abi, launcher, REPORT_FD),
          'echo',
          'ran',
        ]);
        assert.deepEqual(ran, { status: 0, stdout: 'ran\n', stderr: '', report: '' }, `expected ABI ${abi}`);
      }
    });

    it('never hands the command the report descriptor, and reports a command it cannot run', (t) => {
      if (!requires(t, ...needs)) return;
      const reporting = landlockScope(Math.max(LANDLOCK_ABI, 0), launcher, REPORT_FD);
      // `true >&3` fails when descriptor 3 is not open: the job cannot write a report of its own.
      const probe = `if { true >&${REPORT_FD}; } 2>/dev/null; then echo held; else echo closed; fi`;
      assert.deepEqual(runReported([...reporting, 'sh', '-c', probe]), {
        status: 0,
        stdout: 'closed\n',
        stderr: '',
        report: '',
      });
      const line = 'labslot-landlock: cannot run /nonexistent/job: No such file or directory\n';
      assert.deepEqual(runReported([...reporting, '/nonexistent/job']), {
        status: 127,
        stdout: '',
        stderr: line,
        report: line,
      });
    });

    it('hands the command descriptors 0, 1 and 2 only, whatever reached the launcher without close-on-exec', (t) => {
      if (!requires(t, ...needs)) return;
      const reporting = landlockScope(Math.max(LANDLOCK_ABI, 0), launcher, REPORT_FD);
      // Two descriptors opened without close-on-exec before the launcher, as a leak from the agent's parent would be.
      const leak = ['sh', '-c', 'exec 7</dev/null 9</dev/null; exec "$@"', 'leak'];
      const held = runReported([...leak, ...reporting, 'sh', '-c', 'ls /proc/$$/fd']);
      assert.deepEqual(held, { status: 0, stdout: '0\n1\n2\n', stderr: '', report: '' });
      // The leak is real: without the launcher, the command holds them (with the report descriptor, and
      // whatever the test runner itself was handed).
      const unlaunched = runReported([...leak, 'sh', '-c', 'ls /proc/$$/fd']).stdout.split('\n');
      for (const fd of ['3', '7', '9']) assert.ok(unlaunched.includes(fd), `without the launcher, ${fd} is held`);
    });

    it('takes real-time priority from the command, and refuses to run it when it cannot', (t) => {
      if (!requires(t, ...needs, C_COMPILER)) return;
      // The agent's account tools run at real-time priority: a job with a real-time limit (one the agent was
      // started with: a service manager's LimitRTPRIO=, a shell's ulimit -r) could preempt them.
      const limit = "awk '/^Max realtime priority/ { print $4, $5 }' /proc/self/limits";
      assert.deepEqual(run([...SCOPE, 'sh', '-c', limit]), { status: 0, stdout: '0 0\n', stderr: '' });
      const refused = run([...syscallErrno(t)(syscallNumber('prlimit64'), EPERM), ...SCOPE, 'echo', 'ran']);
      assert.equal(refused.status, 125, refused.stderr);
      assert.equal(refused.stdout, '', 'the command did not run');
      assert.match(refused.stderr, /^labslot-landlock: cannot take real-time priority from the job: /);
    });
  });
}

describe(`labslot-landlock, python3 and native together (${ON_KERNEL})`, () => {
  const [python, native] = IMPLEMENTATIONS.map((i) => i.launcher);
  if (python === undefined || native === undefined) throw new Error('both implementations are listed above');

  it('report the same ABI, and the agent runs the native one when the build made it', async (t) => {
    if (!requires(t, PYTHON3, BUILT)) return;
    assert.notEqual(LANDLOCK_ABI, -1, 'the python3 launcher reports an ABI');
    assert.equal(await landlockAbi(undefined, native), LANDLOCK_ABI);
    assert.equal(await landlockAbi(undefined, python), LANDLOCK_ABI);
    assert.deepEqual(landlockLauncher(), native, 'the one decision picks the compiled launcher when it is there');
    // A CI build must have made it: a quiet fallback to python3 would hide a broken build.
    if (IN_CI) assert.equal(landlockLauncher().kind, 'native');
  });

  it('runs python3 when the native launcher the build made cannot run on this host, and says why', (t) => {
    if (!requires(t, PYTHON3)) return;
    // An ELF header and nothing else: exec refuses it (ENOEXEC) as it would a binary for another architecture.
    const foreign = join(tempDir(t), 'labslot-landlock');
    writeFileSync(foreign, Buffer.from('7f454c46020101000000000000000000', 'hex'), { mode: 0o755 });
    const chosen = chooseLauncher(foreign);
    assert.equal(chosen.kind, 'python3');
    assert.match(chosen.nativeFailed ?? '', new RegExp(`^${foreign} --abi: .+`));
    assert.equal(landlockNote(LANDLOCK_ABI, chosen).fields['native_failed'], chosen.nativeFailed);
    assert.equal(chooseLauncher(join(tempDir(t), 'absent')).nativeFailed, undefined, 'none built: nothing to say');
    // One that runs and fails keeps its own error, for the start-up probe to report: python3 would hide it.
    const failing = join(tempDir(t), 'failing-launcher');
    writeFileSync(failing, '#!/bin/sh\necho "landlock_create_ruleset: Operation not permitted" >&2\nexit 2\n', {
      mode: 0o755,
    });
    assert.equal(chooseLauncher(failing).kind, 'native');
  });

  it('chooses the native launcher where it runs', (t) => {
    if (!requires(t, BUILT)) return;
    assert.deepEqual(chooseLauncher(LANDLOCK_NATIVE_LAUNCHER), native);
  });

  for (const [outer, inner] of [
    [python, native],
    [native, python],
  ] as const) {
    it(`keep a ${outer.kind}-scoped listener's socket from a ${inner.kind}-scoped client (two jobs)`, async (t) => {
      if (!requires(t, PYTHON3, BUILT)) return;
      const name = abstractName(`${outer.kind}-domain`);
      await listen(t, name, 'job-a', landlockScope(LANDLOCK_ABI, outer));
      // The control: outside any domain, the listener is reachable.
      assert.equal(run(['python3', '-c', CONNECT_PY, name]).stdout, 'connect=ok reply=from-job-a\n');
      const other = run([...landlockScope(LANDLOCK_ABI, inner), 'python3', '-c', CONNECT_PY, name]);
      assert.equal(other.status, 0, other.stderr);
      assert.equal(other.stdout, SCOPED ? 'connect=EPERM\n' : 'connect=ok reply=from-job-a\n');
    });
  }
});
