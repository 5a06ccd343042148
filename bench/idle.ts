// Benchmark: what an idle agent costs (issue 17, "Idle cost"). A real agent
// process with 64 slots (each a PTY console plus a `true` command check) at the
// default health interval, left alone once every slot is healthy. Samples its
// CPU time (its own, its spawner's, and the command checks') and RSS from
// /proc (process-tree.ts), and prints them against the goals: under 1 % of one core and
// under 150 MiB. Needs root and socat.
//
//   npm run build && npm run bench:idle   (the agent runs from dist/, like an installed one)
//   LABSLOT_BENCH_IDLE_SECONDS=60 npm run bench:idle   (a quick run; default 600 s)
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent } from '../test/helpers/agent-process.js';
import { scriptCleanup } from '../test/helpers/cleanup.js';
import { ptyPair } from '../test/helpers/pty-pair.js';
import { TICKS_PER_SECOND, treeCpu, type TreeCpu } from './process-tree.js';

const SUBMITTER = 'bench-submitter';
const SLOTS = 64;
const SAMPLE_EVERY_MS = 5_000;
const GOAL_CPU_PERCENT = 1;
const GOAL_RSS_MIB = 150;
const IDLE_SECONDS = Number(process.env['LABSLOT_BENCH_IDLE_SECONDS'] ?? 600);
if (!Number.isFinite(IDLE_SECONDS) || IDLE_SECONDS <= 0)
  throw new Error(`LABSLOT_BENCH_IDLE_SECONDS must be a positive number of seconds, not ${IDLE_SECONDS}`);

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

interface Sample extends TreeCpu {
  at: number;
}

function sample(pid: number): Sample {
  return { at: performance.now(), ...treeCpu(pid) };
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
  // ms of CPU per s of wall time, / 10: % of one core.
  const percent = (key: 'self' | 'system' | 'helpers' | 'children'): number => (last[key] - first[key]) / seconds / 10;
  const selfPercent = percent('self');
  const systemPercent = percent('system');
  const helpersPercent = percent('helpers');
  const childrenPercent = percent('children');
  const totalPercent = selfPercent + helpersPercent + childrenPercent;
  const peakRss = Math.max(...samples.map((s) => s.rssMiB + s.helpersRssMiB));
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
    `agent CPU, % of one core: self ${selfPercent.toFixed(3)} (of which kernel ${systemPercent.toFixed(3)}), ` +
      `its spawner ${helpersPercent.toFixed(3)}, the programs they ran ${childrenPercent.toFixed(3)}, total ${totalPercent.toFixed(3)}`,
  );
  console.log(
    `RSS: agent at the end ${last.rssMiB.toFixed(1)} MiB, its spawner ${last.helpersRssMiB.toFixed(1)} MiB; peak of both together ${peakRss.toFixed(1)} MiB`,
  );
  console.log(
    `goal CPU < ${GOAL_CPU_PERCENT} % of one core (total): ${cpuPass ? 'PASS' : 'FAIL'}; ` +
      `goal RSS < ${GOAL_RSS_MIB} MiB (peak): ${rssPass ? 'PASS' : 'FAIL'}`,
  );
  if (!cpuPass || !rssPass) process.exitCode = 1;
} finally {
  await cleanup.runAll();
}
