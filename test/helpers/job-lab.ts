// A real lab for job tests: slots whose consoles are PTY pairs, a real agent
// process, and the API calls the tests make (job-api.ts, which also holds the
// fixed tokens; only their hashes are in the config).
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { agentScope } from '../../src/platform/agent-scope.js';
import { WorkerCgroups } from '../../src/platform/linux/cgroups.js';
import { processesOf } from '../../src/platform/user-processes.js';
import type { Cleanup } from './cleanup.js';
import { startAgent, type AgentSpawnOptions, type RunningAgent } from './agent-process.js';
import type { EventView, JobView, SlotDetailView } from './api-types.js';
import {
  apiRequest,
  authToml,
  getJob,
  jobOutput,
  listEvents,
  slotDetail,
  submitJob,
  waitHealthy,
  waitJobDone,
  waitJobOutput,
} from './job-api.js';
import { ptyPair, type PtyPair } from './pty-pair.js';
import { tempDir } from './temp-dir.js';
import { recordedWorkers } from './worker-records.js';

export { OPERATOR_TOKEN, SUBMITTER_TOKEN, waitHealthy } from './job-api.js';

export interface JobLab {
  dir: string;
  config: string;
  stateDir: string;
  consoles: Map<string, PtyPair>;
  agent: RunningAgent;
  restart: () => Promise<RunningAgent>;
  submit: (body: Record<string, unknown>) => Promise<string>;
  job: (id: string) => Promise<JobView>;
  waitDone: (id: string, timeoutMs?: number) => Promise<JobView>;
  output: (id: string) => Promise<string>;
  /** Waits until the job's output matches (15 s at most); the match, for its groups. */
  waitOutput: (id: string, pattern: RegExp, timeoutMs?: number) => Promise<RegExpExecArray>;
  /** GET /v1/slots/:name, as the tests read it. */
  slot: (name: string) => Promise<SlotDetailView>;
  post: (path: string, body: unknown, token?: string) => Promise<{ status: number; json: Record<string, unknown> }>;
  events: (query?: string) => Promise<EventView[]>;
  /** This lab's worker cgroups; another agent's on the host (a demo, a second test) are not this test's business. */
  cgroups: () => string[];
  /** Every worker this lab's agent ever made, as its database recorded them (names and ids are on record before they exist). */
  workers: () => { username: string; uid: number }[];
  /** Live processes of any of those workers. */
  workerProcesses: () => number[];
}

export interface SlotDef {
  name: string;
  target: string;
  /** Devices besides the slot's own console, defined in `extraToml`. */
  devices?: string[];
  extra?: string;
}

/** The [agent], [auth], [health] and [jobs] tables every test agent starts from: checks rare enough not to interfere. */
export function agentToml(name: string, { healthToml = '', jobsToml = 'stop_grace = "1s"' } = {}): string {
  return (
    `[agent]\nname = "${name}"\n${authToml()}` +
    `[health]\ninterval = "1h"\nfailure_threshold = 3\nsuccess_threshold = 1\n${healthToml}\n[jobs]\n${jobsToml}\n`
  );
}

/** A PTY pair per slot (stopped at teardown) and its console device `<slot>-con`, made under `dir`. */
export async function consoleDevices(
  t: Cleanup,
  dir: string,
  slots: readonly SlotDef[],
): Promise<{ toml: string; consoles: Map<string, PtyPair> }> {
  const consoles = new Map<string, PtyPair>();
  let toml = '';
  for (const slot of slots) {
    const pty = await ptyPair(t, dir, slot.name);
    consoles.set(slot.name, pty);
    toml += `[devices.${slot.name}-con]\nkind = "serial"\npath = "${pty.device}"\n`;
  }
  return { toml, consoles };
}

/** The [slots.NAME] tables: each slot's console first, then its other devices. */
export function slotTables(slots: readonly SlotDef[]): string {
  return slots
    .map(
      (slot) =>
        `[slots.${slot.name}]\ntarget = "${slot.target}"\ndevices = ${JSON.stringify([`${slot.name}-con`, ...(slot.devices ?? [])])}\n${slot.extra ?? ''}\n`,
    )
    .join('');
}

/** Where the state directory is (a small filesystem a test made), and more keys of [health]. */
export interface JobLabOptions {
  stateDir?: string;
  healthToml?: string;
}

/** `slots` each get a console device `<name>-con` on their own PTY; `extraToml` adds anything else. */
export async function jobLab(
  t: TestContext,
  slots: readonly SlotDef[],
  extraToml = '',
  jobsToml = 'stop_grace = "1s"',
  spawnOptions: AgentSpawnOptions = {},
  options: JobLabOptions = {},
): Promise<JobLab> {
  const dir = tempDir(t);
  // Workers reach their directories under the state dir, as under /var/lib on a lab host.
  chmodSync(dir, 0o755);
  const stateDir = options.stateDir ?? join(dir, 'state');
  const devices = await consoleDevices(t, dir, slots);
  const consoles = devices.consoles;
  const toml =
    agentToml('job-lab', { healthToml: options.healthToml ?? '', jobsToml }) +
    devices.toml +
    extraToml +
    slotTables(slots);
  const config = join(dir, 'slots.toml');
  writeFileSync(config, toml);

  let agent = await startAgent(t, { config, stateDir, ...spawnOptions });
  const url = (): string => agent.url;
  const lab: JobLab = {
    dir,
    config,
    stateDir,
    consoles,
    get agent() {
      return agent;
    },
    restart: async () => {
      agent = await startAgent(t, { config, stateDir, ...spawnOptions });
      return agent;
    },
    submit: (body) => submitJob(url, body),
    job: (id) => getJob(url, id),
    waitDone: (id, timeoutMs) => waitJobDone(url, id, timeoutMs),
    output: (id) => jobOutput(url, id),
    waitOutput: (id, pattern, timeoutMs) => waitJobOutput(url, id, pattern, timeoutMs),
    slot: (name) => slotDetail(url, name),
    post: (path, body, token) => apiRequest(url, 'POST', path, body, token),
    events: (query) => listEvents(url, query),
    cgroups: () => new WorkerCgroups(agentScope(stateDir)).existing(),
    workers: () => recordedWorkers(stateDir),
    workerProcesses: () => recordedWorkers(stateDir).flatMap(({ uid }) => (uid > 0 ? processesOf(uid) : [])),
  };
  // Every slot healthy before a test submits, so a failure is the test's own.
  for (const slot of slots) await waitHealthy(url(), slot.name);
  return lab;
}

/** Owner, group and permission bits of a node, for "restored exactly" assertions. */
export function ownership(path: string): { uid: number; gid: number; mode: string } {
  const info = statSync(path);
  return { uid: info.uid, gid: info.gid, mode: (info.mode & 0o7777).toString(8) };
}
