// A real lab for job tests: slots whose consoles are PTY pairs, a real agent
// process, and the API calls the tests make. Tokens are fixed so tests and
// job scripts can use them; only their hashes are in the config.
import { createHash } from 'node:crypto';
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { agentScope } from '../../src/platform/agent-scope.js';
import { WorkerCgroups } from '../../src/platform/linux/cgroups.js';
import { processesOf } from '../../src/platform/user-processes.js';
import { startAgent, type AgentSpawnOptions, type RunningAgent } from './agent-process.js';
import type { EventView, JobView, SlotDetailView } from './api-types.js';
import { eventually } from './eventually.js';
import { ptyPair, type PtyPair } from './pty-pair.js';
import { tempDir } from './temp-dir.js';
import { recordedWorkers } from './worker-records.js';

export const OPERATOR_TOKEN = 'job-lab-operator';
export const SUBMITTER_TOKEN = 'job-lab-submitter';

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

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** `slots` each get a console device `<name>-con` on their own PTY; `extraToml` adds anything else. */
/** Where the state directory is (a small filesystem a test made), and more keys of [health]. */
export interface JobLabOptions {
  stateDir?: string;
  healthToml?: string;
}

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
  const consoles = new Map<string, PtyPair>();
  let toml = `[agent]\nname = "job-lab"\n[auth]\noperators = ["${sha256(OPERATOR_TOKEN)}"]\nsubmitters = ["${sha256(SUBMITTER_TOKEN)}"]\n`;
  toml += `[health]\ninterval = "1h"\nfailure_threshold = 3\nsuccess_threshold = 1\n${options.healthToml ?? ''}\n[jobs]\n${jobsToml}\n`;
  for (const slot of slots) {
    const pty = await ptyPair(t, dir, slot.name);
    consoles.set(slot.name, pty);
    toml += `[devices.${slot.name}-con]\nkind = "serial"\npath = "${pty.device}"\n`;
  }
  toml += extraToml;
  for (const slot of slots) {
    toml += `[slots.${slot.name}]\ntarget = "${slot.target}"\ndevices = ${JSON.stringify([`${slot.name}-con`, ...(slot.devices ?? [])])}\n${slot.extra ?? ''}\n`;
  }
  const config = join(dir, 'slots.toml');
  writeFileSync(config, toml);

  let agent = await startAgent(t, { config, stateDir, ...spawnOptions });
  const url = (): string => agent.url;
  const api = async (
    method: string,
    path: string,
    body?: unknown,
    token = SUBMITTER_TOKEN,
  ): Promise<{ status: number; json: Record<string, unknown> }> => {
    const response = await fetch(`${url()}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  };
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
    submit: async (body) => {
      const { status, json } = await api('POST', '/v1/jobs', body);
      if (status !== 201) throw new Error(`submit answered ${status}: ${JSON.stringify(json)}`);
      return json['id'] as string;
    },
    job: async (id) => (await api('GET', `/v1/jobs/${id}`)).json as unknown as JobView,
    waitDone: async (id, timeoutMs = 20_000) => {
      let last: JobView | undefined;
      return eventually(
        async () => {
          last = await lab.job(id);
          return last.done && last;
        },
        { timeoutMs, intervalMs: 25, message: () => `job ${id} to be done: ${JSON.stringify(last)}` },
      );
    },
    output: async (id) =>
      (
        await fetch(`${url()}/v1/jobs/${id}/output`, {
          headers: { authorization: `Bearer ${SUBMITTER_TOKEN}` },
          signal: AbortSignal.timeout(10_000),
        })
      ).text(),
    waitOutput: async (id, pattern, timeoutMs = 15_000) => {
      let output = '';
      return eventually(
        async () => {
          output = await lab.output(id);
          return pattern.exec(output) ?? false;
        },
        {
          timeoutMs,
          intervalMs: 25,
          message: () => `job ${id} to print ${String(pattern)}; output ${JSON.stringify(output)}`,
        },
      ).catch(async (error: unknown) => {
        // The job's view says why it did not print (still queued, failed); it takes a request, so only now.
        throw new Error(
          `${error instanceof Error ? error.message : String(error)}; job ${JSON.stringify(await lab.job(id).catch(() => 'unreadable'))}`,
          { cause: error },
        );
      });
    },
    slot: async (name) =>
      (await (
        await fetch(`${url()}/v1/slots/${name}`, { signal: AbortSignal.timeout(10_000) })
      ).json()) as SlotDetailView,
    post: (path, body, token) => api('POST', path, body, token),
    events: async (query = '') => (await api('GET', `/v1/events?limit=1000${query}`)).json['events'] as EventView[],
    cgroups: () => new WorkerCgroups(agentScope(stateDir)).existing(),
    workers: () => recordedWorkers(stateDir),
    workerProcesses: () => recordedWorkers(stateDir).flatMap(({ uid }) => (uid > 0 ? processesOf(uid) : [])),
  };
  // Every slot healthy before a test submits, so a failure is the test's own.
  for (const slot of slots) await waitHealthy(url(), slot.name);
  return lab;
}

export async function waitHealthy(url: string, slot: string, timeoutMs = 10_000): Promise<void> {
  let view: SlotDetailView | undefined;
  await eventually(
    async () => {
      view = (await (
        await fetch(`${url}/v1/slots/${slot}`, { signal: AbortSignal.timeout(5_000) })
      ).json()) as SlotDetailView;
      return view.health === 'healthy';
    },
    { timeoutMs, intervalMs: 50, message: () => `slot ${slot} to be healthy: ${JSON.stringify(view)}` },
  );
}

/** Owner, group and permission bits of a node, for "restored exactly" assertions. */
export function ownership(path: string): { uid: number; gid: number; mode: string } {
  const info = statSync(path);
  return { uid: info.uid, gid: info.gid, mode: (info.mode & 0o7777).toString(8) };
}
