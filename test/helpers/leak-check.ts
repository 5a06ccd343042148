// What an agent a test started left on the host once it has stopped: worker
// users and groups, their processes, cgroups and nftables chains under its
// scope, mounts and loop devices under its state directory, and processes it started. A leak is a
// test failure (startAgent's teardown calls assertNoLeaks), as in graphile
// worker's after-each check: the agent's contract is that it cleans up
// completely, and a test that leaves a user or a process behind poisons the
// tests after it.
//
// Only what this agent made counts: other agents and demos may run on the
// same host meanwhile. Its users are the ones its own database recorded; its
// cgroups are under its own scope (a hash of its state directory); its
// processes carry a marker in their environment that only it was started
// with (or were its descendants when it was stopped), or run as its workers.
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { agentScope } from '../../src/platform/agent-scope.js';
import { WorkerCgroups } from '../../src/platform/linux/cgroups.js';
import { processesOf } from '../../src/platform/user-processes.js';
import { eventually } from './eventually.js';
import { loopDevicesUnder, mountTable } from './mount-table.js';
import { chainsOfAgent } from './nft-chains.js';
import { recordedWorkers } from './worker-records.js';

/** Set in the environment of each agent a test starts; its children inherit it unless they are given a clean one. */
export const AGENT_MARK_ENV = 'LABSLOT_TEST_AGENT_MARK';

/** A process, told apart from a later one that reuses its pid by its start time. */
export interface ProcessId {
  pid: number;
  startTime: string;
}

/** How one agent's leftovers are found. */
export interface AgentTrace {
  stateDir: string;
  /** The value of AGENT_MARK_ENV this agent was started with; none for an agent in the test's own process. */
  mark?: string;
  /** Its descendants when it was asked to stop (a child that clears its environment is still found by this). */
  descendants?: ProcessId[];
}

export function newAgentMark(): string {
  return randomUUID();
}

/**
 * Every leftover, each named so a failure says what leaked: "user ls-…",
 * "cgroup labslot/<scope>/<worker>", "process 1234 (sleep) …", "mount …".
 * `stateDirChecks: false` when another agent of this test still runs on the
 * same state directory: its users and cgroups are not leftovers yet.
 */
export function leaksOf(trace: AgentTrace, { stateDirChecks = true } = {}): string[] {
  const leaks: string[] = [];
  const marked = trace.mark === undefined ? [] : processesMarked(trace.mark);
  for (const pid of marked)
    leaks.push(`process ${processName(pid)} started by the agent (${AGENT_MARK_ENV}) still runs`);
  for (const { pid, startTime } of trace.descendants ?? []) {
    if (!marked.includes(pid) && startTimeOf(pid) === startTime)
      leaks.push(`process ${processName(pid)}, a child of the agent when it stopped, still runs`);
  }
  if (!stateDirChecks) return leaks;

  const passwd = names('/etc/passwd');
  const groups = names('/etc/group');
  for (const { username, uid } of recordedWorkers(trace.stateDir)) {
    if (passwd.has(username)) leaks.push(`user ${username} (uid ${uid})`);
    if (groups.has(username)) leaks.push(`group ${username}`);
    for (const pid of uid > 0 ? processesOf(uid) : [])
      leaks.push(`process ${processName(pid)} of worker user ${username}`);
  }
  // Workers made ahead of their job ([jobs] prepare_ahead) are not on record: any user homed here is a leftover.
  const recorded = new Set(recordedWorkers(trace.stateDir).map((w) => w.username));
  const homes = [`${trace.stateDir}/`, `${realStateDir(trace.stateDir)}/`];
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [name = '', , uid = '', , , home = ''] = line.split(':');
    if (name.startsWith('ls-') && !recorded.has(name) && homes.some((h) => home.startsWith(h)))
      leaks.push(`user ${name} (uid ${uid}), not on record`);
  }
  const scope = agentScope(trace.stateDir);
  const cgroups = new WorkerCgroups(scope);
  for (const name of cgroups.existing()) {
    const pids = cgroups.pids(name);
    leaks.push(
      `cgroup labslot/${scope}/${name}${pids.length > 0 ? ` with processes ${pids.map(processName).join(', ')}` : ''}`,
    );
  }
  // Its workers' packet-filter chains (network = "slot"): only those carrying its own scope.
  for (const chain of chainsOfAgent(trace.stateDir)) leaks.push(`nftables chain inet labslot ${chain}`);
  const stateDir = realStateDir(trace.stateDir);
  for (const line of mountTable(stateDir)) {
    const target = line.split(' ')[4] ?? '';
    if (target === stateDir || target.startsWith(`${stateDir}/`)) leaks.push(`mount ${target}`);
  }
  for (const loop of loopDevicesUnder(stateDir))
    leaks.push(`loop device /dev/${loop} backed by a file under ${stateDir}`);
  return leaks;
}

/**
 * Fails with every leftover named. Waits a few seconds first for what is
 * already on its way out (a killed process the kernel has not reaped yet, a
 * cgroup removed right after): only what stays is a leak.
 */
export async function assertNoLeaks(trace: AgentTrace, options: { stateDirChecks?: boolean } = {}): Promise<void> {
  let leaks: string[] = [];
  await eventually(
    () => {
      leaks = leaksOf(trace, options);
      return leaks.length === 0;
    },
    { timeoutMs: 3_000, intervalMs: 100, message: "the agent's leftovers to go" },
  ).catch(() => {
    throw new LeakError(`the agent of ${trace.stateDir}`, leaks);
  });
}

export class LeakError extends Error {
  override readonly name = 'LeakError';

  constructor(
    owner: string,
    readonly leaks: readonly string[],
  ) {
    super(`${owner} left ${leaks.length} thing(s) behind after it stopped: ${leaks.join('; ')}`);
  }
}

/** `pid` and its descendants now (by their parent pids), with their start times. */
export function descendantsOf(pid: number): ProcessId[] {
  const children = new Map<number, number[]>();
  for (const entry of procEntries()) {
    const parent = parentOf(entry);
    if (parent !== undefined) children.set(parent, [...(children.get(parent) ?? []), entry]);
  }
  const found: ProcessId[] = [];
  const queue = [...(children.get(pid) ?? [])];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const startTime = startTimeOf(next);
    if (startTime !== undefined) found.push({ pid: next, startTime });
    queue.push(...(children.get(next) ?? []));
  }
  return found;
}

function processesMarked(mark: string): number[] {
  const needle = `\0${AGENT_MARK_ENV}=${mark}\0`;
  return procEntries().filter((pid) => {
    if (pid === process.pid || isZombie(pid)) return false;
    try {
      return `\0${readFileSync(`/proc/${pid}/environ`, 'latin1')}`.includes(needle);
    } catch {
      return false; // Exited while we looked, or a kernel thread.
    }
  });
}

function procEntries(): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number);
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

function parentOf(pid: number): number | undefined {
  const ppid = statFields(pid)?.[1];
  return ppid === undefined ? undefined : Number(ppid);
}

/** Field 22 of stat (the 20th after the name): the start time in clock ticks since boot. Undefined for a zombie or a gone process. */
function startTimeOf(pid: number): string | undefined {
  const fields = statFields(pid);
  if (fields === undefined || fields[0] === 'Z') return undefined;
  return fields[19];
}

function isZombie(pid: number): boolean {
  return statFields(pid)?.[0] === 'Z';
}

function processName(pid: number): string {
  try {
    return `${pid} (${readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').filter(Boolean).join(' ').slice(0, 120)})`;
  } catch {
    return String(pid);
  }
}

/** The first field of each line of a colon-separated database (/etc/passwd, /etc/group). */
function names(file: string): Set<string> {
  return new Set(
    readFileSync(file, 'utf8')
      .split('\n')
      .map((line) => line.split(':')[0] ?? ''),
  );
}

function realStateDir(stateDir: string): string {
  try {
    // The mount table shows real paths; a state directory given through a symlink is still this one.
    return realpathSync(stateDir);
  } catch {
    return stateDir;
  }
}
