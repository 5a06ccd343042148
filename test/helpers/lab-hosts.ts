// Several agents on one machine standing in for the hosts of a lab (DESIGN §6,
// §7): each has its own state directory, port and PTY consoles, and all point
// at one PostgreSQL database ([lab] database and database_file). They take the
// same tokens (job-api.ts), so a test can talk to any of them as CI would.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAgent, type RunningAgent } from './agent-process.js';
import type { Cleanup } from './cleanup.js';
import type { EventView, JobView, SlotDetailView } from './api-types.js';
import {
  apiRequest,
  getJob,
  jobOutput,
  listEvents,
  slotDetail,
  submitJob,
  waitHealthy,
  waitJobDone,
  waitJobOutput,
  type AgentUrl,
  type ApiAnswer,
} from './job-api.js';
import { agentToml, consoleDevices, slotTables, type SlotDef } from './job-lab.js';
import type { LabDatabase } from './postgres.js';
import type { PtyPair } from './pty-pair.js';
import { tempDir } from './temp-dir.js';

export interface LabHostDef {
  /** The agent's name ([agent] name), as the lab knows the host. */
  name: string;
  slots: readonly SlotDef[];
  /** More tables for this host only, such as devices its slots name ([jobs] keys go in jobsToml, for every host). */
  extraToml?: string;
}

export interface LabHostsOptions {
  database: Pick<LabDatabase, 'url' | 'passwordFile'>;
  hosts: readonly LabHostDef[];
  /** More keys of [lab] for every host, e.g. `host_timeout = "3s"` (the schema's default otherwise). */
  labToml?: string;
  /** The keys of [jobs] for every host; job-lab's by default. */
  jobsToml?: string;
}

export interface LabHost {
  name: string;
  /** The running agent's URL (a restart keeps its port when the last agent has exited, as a host keeps its URL). */
  readonly url: string;
  readonly agent: RunningAgent;
  config: string;
  stateDir: string;
  consoles: Map<string, PtyPair>;
  /** Starts the agent again on the same config and state (after kill9(), or alongside a running one to test that). */
  restart: () => Promise<RunningAgent>;
  /** SIGKILL, as a host that loses power; resolves once the process has exited. */
  kill9: () => Promise<void>;
}

export interface LabHosts {
  hosts: LabHost[];
  host: (name: string) => LabHost;
  submit: (hostUrl: AgentUrl, body: Record<string, unknown>) => Promise<string>;
  job: (hostUrl: AgentUrl, id: string) => Promise<JobView>;
  waitDone: (hostUrl: AgentUrl, id: string, timeoutMs?: number) => Promise<JobView>;
  output: (hostUrl: AgentUrl, id: string) => Promise<string>;
  waitOutput: (hostUrl: AgentUrl, id: string, pattern: RegExp, timeoutMs?: number) => Promise<RegExpExecArray>;
  slot: (hostUrl: AgentUrl, name: string) => Promise<SlotDetailView>;
  post: (hostUrl: AgentUrl, path: string, body: unknown, token?: string) => Promise<ApiAnswer>;
  events: (hostUrl: AgentUrl, query?: string) => Promise<EventView[]>;
}

/**
 * Starts every host's agent (together, as a lab's hosts boot) and waits until each one's slots are healthy.
 * `t` is a test's context, or a script's cleanup (bench/lab.ts).
 */
export async function startLabHosts(t: Cleanup, options: LabHostsOptions): Promise<LabHosts> {
  const names = options.hosts.map((host) => host.name);
  if (new Set(names).size !== names.length) throw new Error(`host names must differ: ${names.join(', ')}`);
  const dir = tempDir(t, 'labslot-lab-');
  // Workers reach their directories under each state dir, as under /var/lib on a lab host.
  chmodSync(dir, 0o755);
  const labTable =
    `[lab]\ndatabase = ${JSON.stringify(options.database.url)}\n` +
    `database_file = ${JSON.stringify(options.database.passwordFile)}\n${options.labToml ?? ''}\n`;

  const hosts = await Promise.all(
    options.hosts.map(async (def): Promise<LabHost> => {
      const hostDir = join(dir, def.name);
      mkdirSync(hostDir, { mode: 0o755 });
      chmodSync(hostDir, 0o755); // Whatever the umask.
      const stateDir = join(hostDir, 'state');
      const devices = await consoleDevices(t, hostDir, def.slots);
      const config = join(hostDir, 'slots.toml');
      const jobsToml = options.jobsToml === undefined ? {} : { jobsToml: options.jobsToml };
      writeFileSync(
        config,
        agentToml(def.name, jobsToml) + labTable + devices.toml + (def.extraToml ?? '') + slotTables(def.slots),
      );
      let agent = await startAgent(t, { config, stateDir });
      return {
        name: def.name,
        get url() {
          return agent.url;
        },
        get agent() {
          return agent;
        },
        config,
        stateDir,
        consoles: devices.consoles,
        restart: async () => {
          // A host comes back at the URL the lab knows it by; one started alongside a running agent cannot.
          const gone = agent.child.exitCode !== null || agent.child.signalCode !== null;
          agent = await startAgent(t, { config, stateDir, ...(gone ? { listen: `127.0.0.1:${agent.port}` } : {}) });
          return agent;
        },
        kill9: async () => {
          await agent.stop('SIGKILL');
        },
      };
    }),
  );
  // Every slot healthy before a test submits, so a failure is the test's own.
  for (const [index, host] of hosts.entries())
    for (const slot of options.hosts[index]?.slots ?? []) await waitHealthy(host.url, slot.name);

  return {
    hosts,
    host: (name) => {
      const found = hosts.find((host) => host.name === name);
      if (found === undefined) throw new Error(`no lab host ${name} (hosts: ${names.join(', ')})`);
      return found;
    },
    submit: submitJob,
    job: getJob,
    waitDone: waitJobDone,
    output: jobOutput,
    waitOutput: waitJobOutput,
    slot: slotDetail,
    post: (hostUrl, path, body, token) => apiRequest(hostUrl, 'POST', path, body, token),
    events: listEvents,
  };
}
