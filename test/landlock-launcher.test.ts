// libexec/labslot-landlock on its own, on this machine's kernel: it reports the
// Landlock ABI, scopes abstract Unix sockets when the kernel can (and runs the
// command unscoped when it cannot), hands the command default signal
// dispositions, and refuses to run the command when the scope cannot be applied.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { LANDLOCK_LAUNCHER, landlockAbi, landlockNote, SCOPE_ABI } from '../src/platform/linux/landlock.js';
import {
  abstractName,
  CONNECT_PY,
  LANDLOCK_ABI,
  LISTEN_PY,
  listenOutside,
  ON_KERNEL,
  SCOPED,
} from './helpers/abstract-socket.js';
import { command, requires } from './helpers/prerequisites.js';

const PYTHON3 = command('python3');
const LAUNCH = ['python3', '-I', '-S', LANDLOCK_LAUNCHER];

function run(argv: string[]): { status: number | null; stdout: string; stderr: string } {
  const [program = 'false', ...args] = argv;
  const result = spawnSync(program, args, { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe(`labslot-landlock (${ON_KERNEL})`, () => {
  it('--abi prints the ABI the agent logs at start', async (t) => {
    if (!requires(t, PYTHON3)) return;
    const printed = run([...LAUNCH, '--abi']);
    assert.equal(printed.status, 0, printed.stderr);
    assert.match(printed.stdout, /^\d+\n$/);
    assert.equal(await landlockAbi(), Number(printed.stdout));
    assert.match(
      landlockNote(Number(printed.stdout)).message,
      SCOPED
        ? /^landlock ABI \d+: abstract Unix sockets are scoped per job$/
        : /^kernel lacks Landlock ABI 6 \(has \d+\)/,
    );
    t.diagnostic(`${ON_KERNEL}: ${landlockNote(LANDLOCK_ABI).message}`);
    // What keeps an agent from starting when it cannot tell (a launcher missing from the installation).
    await assert.rejects(landlockAbi(undefined, '/nonexistent/labslot-landlock'), {
      name: 'LandlockProbeError',
      message: /^\/nonexistent\/labslot-landlock --abi failed \(exit 2\): .*can't open file/,
    });
  });

  it(`${SCOPED ? 'refuses' : `(ABI < ${SCOPE_ABI}: fallback) allows`} a connection to an abstract socket made outside the command's domain`, async (t) => {
    if (!requires(t, PYTHON3)) return;
    const name = abstractName('outside');
    await listenOutside(t, name);
    const plain = run(['python3', '-c', CONNECT_PY, name]);
    assert.equal(plain.stdout, 'connect=ok reply=from-outside\n', `control: the socket exists. ${plain.stderr}`);
    const scoped = run([...LAUNCH, '--scope', '--', 'python3', '-c', CONNECT_PY, name]);
    assert.equal(scoped.status, 0, scoped.stderr);
    if (SCOPED) assert.equal(scoped.stdout, 'connect=EPERM\n');
    else {
      assert.equal(scoped.stdout, 'connect=ok reply=from-outside\n', 'an older kernel runs the command unscoped');
      t.diagnostic(`${ON_KERNEL} lacks ABI ${SCOPE_ABI}: asserted the documented fallback (unscoped)`);
    }
  });

  it("lets the command's own processes talk over their own abstract socket", (t) => {
    if (!requires(t, PYTHON3)) return;
    const name = abstractName('inside');
    // Both ends in the one domain: a listener in the background, and a client that stops it.
    const client = `python3 -c '${CONNECT_PY}' ${name} stop`;
    // The client retries until the background listener is up (at most 10 s).
    const script = `python3 -c '${LISTEN_PY}' ${name} inside & for i in $(seq 100); do out=$(${client}); [ "$out" != connect=ECONNREFUSED ] && break; sleep 0.1; done; echo "$out"; wait`;
    const inside = run([...LAUNCH, '--scope', '--', 'sh', '-c', script]);
    assert.equal(inside.stdout, 'listening\nconnect=ok reply=from-inside\n', inside.stderr);
    assert.equal(inside.status, 0, inside.stderr);
  });

  it('hands the command default signal dispositions (python ignores SIGPIPE for itself)', (t) => {
    if (!requires(t, PYTHON3)) return;
    const ignored = run([...LAUNCH, '--scope', '--', 'grep', '^SigIgn:', '/proc/self/status']);
    assert.equal(ignored.stdout, 'SigIgn:\t0000000000000000\n', ignored.stderr);
    // What a user would see: `yes` dying quietly of SIGPIPE, not complaining of a broken pipe.
    const pipe = run([...LAUNCH, '--scope', '--', 'sh', '-c', 'yes | head -n 1']);
    assert.deepEqual({ stdout: pipe.stdout, stderr: pipe.stderr }, { stdout: 'y\n', stderr: '' });
  });

  it('does not run the command when the scope cannot be applied, and says why', (t) => {
    if (!requires(t, PYTHON3)) return;
    // Landlock allows 16 nested domains: the 17th restrict_self fails (E2BIG), a real kernel refusal.
    const nested = Array.from({ length: 17 }, () => [...LAUNCH, '--scope', '--']).flat();
    const deep = run([...nested, 'echo', 'ran']);
    if (SCOPED) {
      assert.equal(deep.status, 125, deep.stderr);
      assert.equal(deep.stdout, '', 'the command never ran');
      assert.match(
        deep.stderr,
        /labslot-landlock: landlock_restrict_self: .*: the job does not start without its abstract-socket scope/,
      );
    } else {
      assert.equal(deep.stdout, 'ran\n', 'an older kernel has nothing to apply');
      t.diagnostic(`${ON_KERNEL} lacks ABI ${SCOPE_ABI}: asserted the documented fallback (unscoped)`);
    }
    const usage = run([...LAUNCH, '--scope', 'echo']);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /usage: labslot-landlock --abi \| --scope -- COMMAND/);
    const missing = run([...LAUNCH, '--scope', '--', '/nonexistent/job']);
    assert.equal(missing.status, 127);
    assert.match(missing.stderr, /cannot run \/nonexistent\/job: No such file or directory/);
  });
});
