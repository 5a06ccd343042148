// The floor of a lease (issue 17): the work a job cannot avoid, without
// labslot around it: create a user, run `true` in a PID namespace as that
// user with its groups applied and no new privileges, delete the user. Timed
// one at a time (latency) and `parallel` at a time (throughput) on this
// machine, in the same run as labslot's figures, so that those can be read as
// ratios to it rather than as absolute times that depend on the machine.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { treeCpu } from './process-tree.js';
import { hostCpu, hostLoad, type HostLoad } from './host-cpu.js';

/** One command, resolved with its exit code; a bench step that fails stops the benchmark. */
function run(argv: readonly string[]): Promise<void> {
  const [program, ...args] = argv;
  if (program === undefined) throw new TypeError('no program');
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${argv.join(' ')} exited ${String(code)}: ${stderr.trim()}`)),
    );
  });
}

/** useradd, the sandboxed `true` as that user, userdel: the bare sequence of one job. */
async function bareJob(): Promise<void> {
  const name = `lsfloor${randomBytes(4).toString('hex')}`;
  await run(['useradd', '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
  try {
    await run([
      'bwrap',
      '--unshare-pid',
      '--die-with-parent',
      '--ro-bind',
      '/',
      '/',
      '--dev',
      '/dev',
      '--proc',
      '/proc',
      'setpriv',
      `--reuid=${name}`,
      `--regid=${name}`,
      '--init-groups',
      '--no-new-privs',
      'true',
    ]);
  } finally {
    await run(['userdel', name]);
  }
}

export interface Floor {
  /** One bare job at a time: median of `samples`, ms. */
  p50Ms: number;
  /** One bare job at a time: jobs per second over the samples. */
  sequentialJobsPerSecond: number;
  /** `parallel` bare jobs at a time: jobs per second over `jobs`. */
  jobsPerSecond: number;
  parallel: number;
  /** CPU of the tools per job, `parallel` at a time (not this process's own forking of them), ms. */
  cpuPerJobMs: number;
  /** The whole host while `parallel` ran at a time: busy share of all cores, and CPU per job. */
  host: HostLoad;
}

export async function measureFloor(samples: number, jobs: number, parallel: number): Promise<Floor> {
  await bareJob(); // warm the page cache and the tools
  const times: number[] = [];
  for (let i = 0; i < samples; i += 1) {
    const started = performance.now();
    await bareJob();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  let next = 0;
  const cpuBefore = treeCpu(process.pid).children;
  const hostBefore = hostCpu();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < jobs) {
        next += 1;
        await bareJob();
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const host = hostLoad(hostBefore, hostCpu(), jobs);
  return {
    p50Ms: times[Math.floor(times.length / 2)] ?? NaN,
    sequentialJobsPerSecond: (times.length * 1000) / times.reduce((sum, ms) => sum + ms, 0),
    jobsPerSecond: jobs / seconds,
    parallel,
    cpuPerJobMs: (treeCpu(process.pid).children - cpuBefore) / jobs,
    host,
  };
}
