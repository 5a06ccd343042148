// What the sandbox adds to every job: the same trivial job (`true`) as the
// same worker user, started once through the Linux platform (cgroups, a
// private mount namespace, bwrap, setpriv, env -i; then killing the cgroup
// and removing it) and once with setpriv alone, as before the sandbox; and
// setpriv with the Landlock launcher (libexec/labslot-landlock, which every
// sandboxed job runs) against setpriv alone, for what the launcher adds.
// Prints p50/p99 of each and of the differences. Needs root, bubblewrap, python3.
//
//   npx tsx bench/sandbox-overhead.ts
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentScope } from '../src/platform/agent-scope.js';
import { landlockAbi, landlockScope } from '../src/platform/linux/landlock.js';
import { LinuxPlatform } from '../src/platform/linux/linux-platform.js';
import {
  ENVIRONMENT_FILE,
  environmentScript,
  privilegeDrop,
  withJobEnvironment,
} from '../src/platform/linux/sandbox.js';
import type { JobLaunch } from '../src/platform/platform.js';

const RUNS = 60;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function run(argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const [program, ...args] = argv;
    const child = spawn(program ?? 'false', args, { stdio: 'ignore', env: { PATH: '/usr/bin:/bin' } });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${argv.join(' ')} exited ${String(code)}`)),
    );
  });
}

const dir = mkdtempSync(join(tmpdir(), 'labslot-bench-sandbox-'));
// The worker passes through it to its directories and the environment file, as through a state directory.
chmodSync(dir, 0o711);
const platform = new LinuxPlatform(agentScope(dir));
const workerId = 'wbenchsandbox';
const account = await platform.createUser({ workerId, name: 'ls-benchsandbox', groups: [], home: join(dir, 'home') });
try {
  const dirs = ['home', 'work', 'tmp', 'var-tmp'].map((d) => join(dir, d));
  for (const d of dirs) {
    mkdirSync(d);
    chownSync(d, account.uid, account.gid);
  }
  const env = { PATH: '/usr/bin:/bin', HOME: join(dir, 'home') };
  // What the platform writes for each job; the plain run reads the same file.
  const envFile = join(dir, ENVIRONMENT_FILE);
  writeFileSync(envFile, environmentScript(env), { mode: 0o640 });
  chownSync(envFile, 0, account.gid);
  const launch: JobLaunch = {
    worker: account,
    command: ['true'],
    env,
    privateDir: dir,
    cwd: '/work',
    outputFile: join(dir, 'output.log'),
    // The environment file is in `dir`, under the /tmp the job gets its own of (as worker-setup binds the worker root).
    readOnly: [{ host: dir, inJob: dir }],
    writable: [
      { host: join(dir, 'home'), inJob: join(dir, 'home') },
      { host: join(dir, 'work'), inJob: '/work' },
      { host: join(dir, 'tmp'), inJob: '/tmp' },
      { host: join(dir, 'var-tmp'), inJob: '/var/tmp' },
    ],
    devices: [],
    limits: { memoryBytes: 2 ** 30, pids: 1024, cpus: 1 },
  };
  // What the agent probes at start and every job's launcher is told to expect.
  const abi = await landlockAbi();
  const sandboxed: number[] = [];
  const plain: number[] = [];
  const scoped: number[] = [];
  for (let i = 0; i < RUNS + 5; i += 1) {
    let started = performance.now();
    const job = await platform.startJob(launch);
    const exit = await job.exited;
    if (exit.code !== 0)
      throw new Error(`sandboxed job exited ${String(exit.code)}: ${readFileSync(launch.outputFile, 'utf8')}`);
    await platform.killWorker(account, 5_000);
    await platform.releaseWorker(account);
    const sandboxMs = performance.now() - started;
    started = performance.now();
    await run([...privilegeDrop(account), ...withJobEnvironment(envFile, ['true'])]);
    const plainMs = performance.now() - started;
    started = performance.now();
    await run([...privilegeDrop(account), ...landlockScope(abi), ...withJobEnvironment(envFile, ['true'])]);
    const scopedMs = performance.now() - started;
    if (i >= 5) {
      sandboxed.push(sandboxMs);
      plain.push(plainMs);
      scoped.push(scopedMs);
    }
  }
  const added = sandboxed.map((s, i) => s - (plain[i] ?? 0)).sort((a, b) => a - b);
  const launcher = scoped.map((s, i) => s - (plain[i] ?? 0)).sort((a, b) => a - b);
  scoped.sort((a, b) => a - b);
  sandboxed.sort((a, b) => a - b);
  plain.sort((a, b) => a - b);
  console.log(
    `labslot sandbox overhead: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, ${RUNS} runs of \`true\``,
  );
  console.log('                                   p50 ms   p99 ms');
  console.log(
    `setpriv + env only               ${percentile(plain, 50).toFixed(1).padStart(7)}  ${percentile(plain, 99).toFixed(1).padStart(7)}`,
  );
  console.log(
    `cgroups + unshare + bwrap + ...  ${percentile(sandboxed, 50).toFixed(1).padStart(7)}  ${percentile(sandboxed, 99).toFixed(1).padStart(7)}`,
  );
  console.log(
    `added by the sandbox             ${percentile(added, 50).toFixed(1).padStart(7)}  ${percentile(added, 99).toFixed(1).padStart(7)}`,
  );
  console.log(
    `setpriv + landlock + env         ${percentile(scoped, 50).toFixed(1).padStart(7)}  ${percentile(scoped, 99).toFixed(1).padStart(7)}`,
  );
  console.log(
    `added by the launcher (ABI ${abi})     ${percentile(launcher, 50).toFixed(1).padStart(7)}  ${percentile(launcher, 99).toFixed(1).padStart(7)}`,
  );
} finally {
  await platform.killWorker(account, 5_000);
  await platform.releaseWorker(account);
  await platform.deleteUser(account.username);
  rmSync(dir, { recursive: true, force: true });
}
