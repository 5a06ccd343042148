// Benchmark: what an idle agent costs (issue 17, "Idle cost"). A real agent
// process with 64 slots (each a PTY console plus a `true` command check) at the
// default health interval, left alone once every slot is healthy. Samples its
// CPU time (its own, and its reaped children's: the command checks) and RSS
// from /proc, and prints them against the goals: under 1 % of one core and
// under 150 MiB. Needs root and socat.
//
//   npm run build && npm run bench:idle   (the agent runs from dist/, like an installed one)
//   LABSLOT_BENCH_IDLE_SECONDS=60 npm run bench:idle   (a quick run; default 600 s)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent } from '../test/helpers/agent-process.js';
import { scriptCleanup } from '../test/helpers/cleanup.js';
import { ptyPair } from '../test/helpers/pty-pair.js';

const SUBMITTER = 'bench-submitter';
const SLOTS = 64;
const SAMPLE_EVERY_MS = 5_000;
const GOAL_CPU_PERCENT = 1;
const GOAL_RSS_MIB = 150;
const IDLE_SECONDS = Number(process.env['LABSLOT_BENCH_IDLE_SECONDS'] ?? 600);
if (!Number.isFinite(IDLE_SECONDS) || IDLE_SECONDS <= 0)
  throw new Error(`LABSLOT_BENCH_IDLE_SECONDS must be a positive number of seconds, not ${IDLE_SECONDS}`);

/** The kernel's clock tick, in which /proc/<pid>/stat counts CPU time (100 on every Linux we run on). */
const TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

async function api<T>(url: string): Promise<T> {
  const response = await fetch(url, {
    headers: { authorization: `Bearer ${SUBMITTER}` },
    signal: AbortSignal.timeout(60_000),
  });
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

interface Sample {
  at: number;
  /** utime + stime of the agent, in seconds. */
  self: number;
  /** stime alone: the kernel's share of it (fork, pipes, database writes), in seconds. */
  system: number;
  /** cutime + cstime: the children it has waited for (its command checks), in seconds. */
  children: number;
  rssMiB: number;
}

function sample(pid: number): Sample {
  const at = performance.now();
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the name: state is fields[0], so utime (field 14) is fields[11], stime 12, cutime 13, cstime 14.
  const ticks = (i: number): number => Number(fields[i]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  return {
    at,
    self: (ticks(11) + ticks(12)) / TICKS_PER_SECOND,
    system: ticks(12) / TICKS_PER_SECOND,
    children: (ticks(13) + ticks(14)) / TICKS_PER_SECOND,
    rssMiB: rssKiB / 1024,
  };
}

const cleanup = scriptCleanup();
let stopping = false;
try {
  const dir = mkdtempSync(join(tmpdir(), 'labslot-bench-'));
  chmodSync(dir, 0o755);
  cleanup.after(() => rmSync(dir, { recursive: true, force: true }));
  // No [health] interval: the default is what an idle host pays.
  let toml = `[agent]\nname = "bench"\n[auth]\nsubmitters = ["${sha256(SUBMITTER)}"]\n`;
  for (let i = 1; i <= SLOTS; i += 1) {
    const pty = await ptyPair(cleanup, dir, `s${i}`);
    toml += `[devices.s${i}-con]\nkind = "serial"\npath = "${pty.device}"\n`;
    toml += `[devices.s${i}-check]\nkind = "command"\nargv = ["true"]\n`;
  }
  for (let i = 1; i <= SLOTS; i += 1)
    toml += `[slots.s${i}]\ntarget = "tb"\ndevices = ["s${i}-con", "s${i}-check"]\nadd_to_groups = ["dialout"]\n`;
  const config = join(dir, 'slots.toml');
  writeFileSync(config, toml);
  const agent = await startAgent(cleanup, { config, stateDir: join(dir, 'state'), timeoutMs: 60_000 });
  const pid = agent.child.pid;
  if (pid === undefined) throw new Error('the agent has no pid');
  // An agent that dies midway says why (its stderr), instead of the bench failing on a refused connection.
  void agent.exited.then((code) => {
    if (!stopping)
      console.error(
        `the agent exited (${code}) during the benchmark; stderr: ${agent.stderr()}; last log lines: ${JSON.stringify(agent.logs.filter((l) => Number(l['level']) >= 50 || l['level'] === 'fatal' || l['level'] === 'error').slice(-3))}`,
      );
  });

  // Wait until every slot has been checked once (start-up, not idle).
  const healthyBy = Date.now() + 120_000;
  for (;;) {
    const { slots: views } = await api<{ slots: { health: string }[] }>(`${agent.url}/v1/slots`);
    if (views.length === SLOTS && views.every((s) => s.health === 'healthy')) break;
    if (Date.now() > healthyBy) throw new Error('not every slot was healthy within 120 s');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }

  // Idle: nobody asks the agent anything; only /proc is read.
  const samples: Sample[] = [sample(pid)];
  const idleUntil = performance.now() + IDLE_SECONDS * 1000;
  while (performance.now() < idleUntil) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(SAMPLE_EVERY_MS, idleUntil - performance.now())));
    samples.push(sample(pid));
  }
  const first = samples[0];
  const last = samples.at(-1);
  if (first === undefined || last === undefined) throw new Error('no samples');
  const seconds = (last.at - first.at) / 1000;
  const selfPercent = ((last.self - first.self) / seconds) * 100;
  const systemPercent = ((last.system - first.system) / seconds) * 100;
  const childrenPercent = ((last.children - first.children) / seconds) * 100;
  const totalPercent = selfPercent + childrenPercent;
  const peakRss = Math.max(...samples.map((s) => s.rssMiB));
  stopping = true;
  await agent.stop();

  const cpuPass = totalPercent < GOAL_CPU_PERCENT;
  const rssPass = peakRss < GOAL_RSS_MIB;
  console.log(
    `labslot idle benchmark: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, clock tick ${TICKS_PER_SECOND} Hz`,
  );
  console.log(
    `${SLOTS} slots (${SLOTS * 2} devices: PTY consoles and \`true\` command checks), default health interval, idle ${seconds.toFixed(0)} s after every slot was healthy, ${samples.length} samples`,
  );
  console.log(
    `agent CPU, % of one core: self ${selfPercent.toFixed(3)} (of which kernel ${systemPercent.toFixed(3)}), children ${childrenPercent.toFixed(3)}, total ${totalPercent.toFixed(3)}`,
  );
  console.log(`agent RSS: end ${last.rssMiB.toFixed(1)} MiB, peak ${peakRss.toFixed(1)} MiB`);
  console.log(
    `goal CPU < ${GOAL_CPU_PERCENT} % of one core (total): ${cpuPass ? 'PASS' : 'FAIL'}; ` +
      `goal RSS < ${GOAL_RSS_MIB} MiB (peak): ${rssPass ? 'PASS' : 'FAIL'}`,
  );
  if (!cpuPass || !rssPass) process.exitCode = 1;
} finally {
  await cleanup.runAll();
}
