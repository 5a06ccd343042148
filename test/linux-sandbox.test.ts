// The Linux sandbox command line, as built: what runs as root sees nothing
// the job chose, mounts go outer to inner, the root ends read-only, and the
// job's top-level directories replace the host's.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { landlockLauncher } from '../src/platform/linux/landlock.js';
import {
  bwrapArguments,
  environmentScript,
  SANDBOX_REPORT_FD,
  sandboxCommand,
  type RootEntry,
} from '../src/platform/linux/sandbox.js';
import type { JobLaunch } from '../src/platform/platform.js';
import { tempDir } from './helpers/temp-dir.js';

const ROOT: RootEntry[] = [
  { name: 'bin', kind: 'symlink', target: 'usr/bin' },
  { name: 'usr', kind: 'directory' },
  { name: 'etc', kind: 'directory' },
  { name: 'work', kind: 'directory' },
  { name: 'tmp', kind: 'directory' },
  { name: 'proc', kind: 'directory' },
  { name: 'dev', kind: 'directory' },
];

const LAUNCH: JobLaunch = {
  worker: { workerId: 'w1', username: 'ls-1', uid: 1_048_577, gid: 1_048_577 },
  command: ['make', 'test'],
  env: { LD_PRELOAD_LOOKALIKE: 'x', PATH: '/usr/bin', SECRET_API_KEY: "s3cr'et" },
  privateDir: '/var/lib/labslot/workers/w1',
  cwd: '/work',
  outputFile: '/var/lib/labslot/jobs/j1/output.log',
  readOnly: [
    { host: '/opt/labslot', inJob: '/opt/labslot' },
    { host: '/var/lib/labslot/jobs/j1/input', inJob: '/input' },
  ],
  writable: [
    { host: '/var/lib/labslot/workers/w1/work', inJob: '/work' },
    { host: '/var/lib/labslot/workers/w1/tmp', inJob: '/tmp' },
    { host: '/var/lib/labslot/workers/w1/var-tmp', inJob: '/var/tmp' },
  ],
  devices: [{ host: '/dev/pts/3', inJob: '/dev/labslot/s1-con' }],
  limits: {},
};

describe('linux sandbox command', () => {
  it('joins the cgroups, makes mounts private, then bwrap, then drops privileges, and only then loads the job env from its file', () => {
    const envFile = '/var/lib/labslot/workers/w1/environment';
    // ABI 7: what the agent's probe found at start, which the launcher is told to hold the job to.
    const argv = sandboxCommand(LAUNCH, ['/sys/fs/cgroup/memory/labslot/w1/cgroup.procs'], envFile, 7);
    const at = (word: string): number => argv.indexOf(word);
    assert.deepEqual(argv.slice(0, 2), ['/bin/sh', '-c']);
    assert.ok(at('unshare') < at('bwrap') && at('bwrap') < at('setpriv') && at('setpriv') < at('/usr/bin/env'));
    // The Landlock scope is the worker's own doing (no_new_privs already set), just before the job's environment,
    // by whichever launcher this checkout has (native when built with a C compiler, else python3), told the
    // ABI to expect and where to report a refusal (the chain's descriptor SANDBOX_REPORT_FD).
    const landlock = landlockLauncher();
    const launcherAt = at('--scope') - landlock.argv.length;
    assert.deepEqual(argv.slice(launcherAt, at('/usr/bin/env')), [
      ...landlock.argv,
      '--scope',
      '--expect-abi',
      '7',
      '--report-fd',
      String(SANDBOX_REPORT_FD),
      '--',
    ]);
    assert.ok(at('setpriv') < launcherAt);
    assert.match(
      argv.slice(at('bwrap'), at('setpriv')).join(' '),
      new RegExp(`--ro-bind ${landlock.dir} ${landlock.dir} `),
      'the launcher is in the sandbox wherever the package is installed',
    );
    assert.deepEqual(argv.slice(at('unshare'), at('unshare') + 5), [
      'unshare',
      '--mount',
      '--propagation',
      'private',
      '--',
    ]);
    assert.ok(
      argv.includes('--init-groups') && argv.includes('--no-new-privs') && argv.includes('--bounding-set=-all'),
    );
    assert.ok(at(envFile) > at('/usr/bin/env'), 'the environment is read only after env -i, as the worker');
    // Nothing of the environment is in argv, where ps shows it to every user.
    assert.deepEqual(
      argv.filter((a) => /LD_PRELOAD_LOOKALIKE|SECRET_API_KEY|s3cr/.test(a)),
      [],
    );
    assert.deepEqual(argv.slice(-2), ['make', 'test']);
  });

  it('writes the environment as sh reads it back, quotes and newlines included', (t) => {
    const env = { A: "it's", B: 'two\nlines', C: '$(touch /tmp/x) `x` \\ "q"', D: '' };
    const script = environmentScript(env);
    const file = join(tempDir(t), 'environment');
    writeFileSync(file, script);
    const out = execFileSync('/usr/bin/env', [
      '-i',
      '/bin/sh',
      '-c',
      `. "$1"; printf '%s\\0' "$A" "$B" "$C" "$D"`,
      'sh',
      file,
    ]);
    assert.deepEqual(out.toString('utf8').split('\0').slice(0, 4), [env.A, env.B, env.C, env.D]);
    assert.throws(() => environmentScript({ 'BAD-NAME': 'x' }), /not an environment variable name/);
  });

  it("rebuilds a read-only root around the job's own /work, /tmp and /input, outer mounts first", () => {
    const args = bwrapArguments(LAUNCH, ROOT);
    const text = args.join(' ');
    assert.match(
      text,
      /--tmpfs \/ --symlink usr\/bin \/bin --ro-bind \/usr \/usr --ro-bind \/etc \/etc --dev \/dev --proc \/proc /,
    );
    assert.doesNotMatch(
      text,
      /--ro-bind \/work \/work|--ro-bind \/tmp \/tmp|--ro-bind \/proc/,
      "the host's /work, /tmp and /proc are not shown",
    );
    assert.match(text, /--bind \/var\/lib\/labslot\/workers\/w1\/work \/work/);
    assert.match(text, /--ro-bind \/var\/lib\/labslot\/jobs\/j1\/input \/input/);
    assert.match(text, /--perms 0755 --dir \/dev\/labslot --dev-bind \/dev\/pts\/3 \/dev\/labslot\/s1-con/);
    assert.ok(text.indexOf('/var/tmp') > text.indexOf(' /tmp '), 'deeper mounts after shallower ones');
    assert.deepEqual(args.slice(-5), ['--remount-ro', '/', '--chdir', '/work', '--']);
    assert.ok(
      args.includes('--die-with-parent') && args.includes('--unshare-pid') && !args.includes('--unshare-net'),
      "own PIDs, the host's network",
    );
  });
});
