// One cgroup per worker, under `labslot/<agent scope>` (agent-scope.ts), on cgroup v2 where it has
// the memory, pids and cpu controllers, and on cgroup v1 otherwise (with a v2
// child too when the unified hierarchy is mounted beside v1, for its
// cgroup.kill). The job joins every hierarchy before it execs, so nothing it
// forks escapes; stopping kills the whole cgroup, so a double fork or setsid
// does not outlive its job.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatSize } from '../../config/size.js';
import type { JobLimits, LimitVerdict } from '../platform.js';
import { signalAll } from '../user-processes.js';

const ROOT = '/sys/fs/cgroup';
/** Every agent's cgroups are below this; each agent's below its own scope in it. */
const LABSLOT = 'labslot';
const CPU_PERIOD_US = 100_000;

export type CgroupLayout =
  /** Pure v2: one hierarchy with the controllers. */
  | { kind: 'v2'; root: string }
  /** v1 controllers, plus the unified v2 hierarchy (for cgroup.kill) when it is mounted. */
  | { kind: 'v1'; memory: string; pids: string; cpu: string; freezer: string; unified: string | undefined };

export function detectCgroups(root = ROOT): CgroupLayout {
  if (existsSync(join(root, 'cgroup.controllers'))) {
    const controllers = readFileSync(join(root, 'cgroup.controllers'), 'utf8').split(/\s+/);
    if (['memory', 'pids', 'cpu'].every((c) => controllers.includes(c))) return { kind: 'v2', root };
  }
  const v1 = (name: string): string => join(root, name);
  const unified = existsSync(join(root, 'unified', 'cgroup.procs')) ? join(root, 'unified') : undefined;
  return { kind: 'v1', memory: v1('memory'), pids: v1('pids'), cpu: v1('cpu'), freezer: v1('freezer'), unified };
}

export class WorkerCgroups {
  /** `labslot/<scope>`: the parent of this agent's worker cgroups in every hierarchy. */
  private readonly parent: string;

  constructor(
    scope: string,
    private readonly layout: CgroupLayout = detectCgroups(),
  ) {
    this.parent = join(LABSLOT, scope);
  }

  /** The directories of one worker's cgroup, one per hierarchy. */
  dirs(workerId: string): string[] {
    return this.parents().map((p) => join(p, workerId));
  }

  /** Files the job writes its pid to before it execs. */
  procsFiles(workerId: string): string[] {
    return this.dirs(workerId).map((d) => join(d, 'cgroup.procs'));
  }

  async create(workerId: string, limits: JobLimits): Promise<void> {
    await this.ensureParents();
    for (const dir of this.dirs(workerId)) await mkdir(dir, { recursive: true });
    const { layout } = this;
    const memory = limits.memoryBytes;
    const cpuQuota = limits.cpus === undefined ? undefined : Math.max(1_000, Math.round(limits.cpus * CPU_PERIOD_US));
    if (layout.kind === 'v2') {
      const dir = join(layout.root, this.parent, workerId);
      if (memory !== undefined) {
        write(dir, 'memory.max', String(memory));
        // No swap: a memory limit that spills into swap is not a limit.
        writeIfExists(dir, 'memory.swap.max', '0');
      }
      if (limits.pids !== undefined) write(dir, 'pids.max', String(limits.pids));
      if (cpuQuota !== undefined) write(dir, 'cpu.max', `${cpuQuota} ${CPU_PERIOD_US}`);
      return;
    }
    if (memory !== undefined) {
      const dir = join(layout.memory, this.parent, workerId);
      write(dir, 'memory.limit_in_bytes', String(memory));
      writeIfExists(dir, 'memory.memsw.limit_in_bytes', String(memory));
    }
    if (limits.pids !== undefined) write(join(layout.pids, this.parent, workerId), 'pids.max', String(limits.pids));
    if (cpuQuota !== undefined) {
      const dir = join(layout.cpu, this.parent, workerId);
      write(dir, 'cpu.cfs_period_us', String(CPU_PERIOD_US));
      write(dir, 'cpu.cfs_quota_us', String(cpuQuota));
    }
  }

  /** PIDs in the worker's cgroup (from every hierarchy: a process is in all of them or none). */
  pids(workerId: string): number[] {
    const pids = new Set<number>();
    for (const file of this.procsFiles(workerId)) {
      for (const line of readOr(file, '').split('\n')) if (line.trim() !== '') pids.add(Number(line));
    }
    return [...pids];
  }

  /**
   * Kills everything in the cgroup: cgroup.kill where there is one, else
   * freeze, SIGKILL every pid, thaw (a frozen process cannot fork while its
   * siblings are killed). Repeats until empty or `timeoutMs`; returns survivors.
   */
  async kill(workerId: string, timeoutMs: number): Promise<number[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pids = this.pids(workerId);
      if (pids.length === 0 || Date.now() > deadline) return pids;
      const killFile = this.dirs(workerId)
        .map((d) => join(d, 'cgroup.kill'))
        .find((f) => existsSync(f));
      if (killFile !== undefined) {
        writeFileSync(killFile, '1');
      } else if (this.layout.kind === 'v1') {
        const freezer = join(this.layout.freezer, this.parent, workerId);
        writeIfExists(freezer, 'freezer.state', 'FROZEN');
        signalAll(pids, 'SIGKILL');
        writeIfExists(freezer, 'freezer.state', 'THAWED');
      }
      await sleep(20);
    }
  }

  /** Which limit ended the job, read from the kernel's event counters. */
  verdict(workerId: string, limits: JobLimits): LimitVerdict {
    const { layout } = this;
    const memoryDir =
      layout.kind === 'v2' ? join(layout.root, this.parent, workerId) : join(layout.memory, this.parent, workerId);
    const pidsDir = layout.kind === 'v2' ? memoryDir : join(layout.pids, this.parent, workerId);
    const oomKills = counter(
      readOr(join(memoryDir, layout.kind === 'v2' ? 'memory.events' : 'memory.oom_control'), ''),
      'oom_kill',
    );
    if (oomKills > 0 && limits.memoryBytes !== undefined)
      return `memory limit of ${formatSize(limits.memoryBytes)} reached: the kernel killed the job (out of memory)`;
    const forkFailures = counter(readOr(join(pidsDir, 'pids.events'), ''), 'max');
    if (forkFailures > 0 && limits.pids !== undefined)
      return `process limit of ${limits.pids} reached: ${forkFailures} forks failed`;
    return undefined;
  }

  /** Removes the worker's cgroup; a cgroup that is already gone is fine. */
  async remove(workerId: string): Promise<void> {
    for (const dir of this.dirs(workerId)) {
      for (let attempt = 0; ; attempt += 1) {
        try {
          await rmdir(dir);
          break;
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') break;
          // EBUSY: the last killed process has not been reaped yet.
          if (code !== 'EBUSY' || attempt >= 50) throw error;
          await sleep(20);
        }
      }
    }
  }

  /** Removes this agent's scope (`labslot/<scope>`) where it is empty; one still holding a worker stays. */
  async removeScope(): Promise<void> {
    for (const parent of this.parents()) {
      await rmdir(parent).catch(() => undefined);
    }
  }

  /** This agent's worker cgroups present in any hierarchy (another agent's scope is not looked at). */
  existing(): string[] {
    const names = new Set<string>();
    for (const parent of this.parents()) {
      try {
        for (const entry of readdirSync(parent, { withFileTypes: true }))
          if (entry.isDirectory()) names.add(entry.name);
      } catch {
        // No parent yet: no workers either.
      }
    }
    return [...names];
  }

  private parents(): string[] {
    const { layout } = this;
    if (layout.kind === 'v2') return [join(layout.root, this.parent)];
    return [layout.memory, layout.pids, layout.cpu, layout.freezer, ...(layout.unified ? [layout.unified] : [])].map(
      (h) => join(h, this.parent),
    );
  }

  private async ensureParents(): Promise<void> {
    for (const parent of this.parents()) await mkdir(parent, { recursive: true });
    if (this.layout.kind === 'v2') {
      // Controllers must be enabled from the root down to the parent of the worker cgroups.
      for (const dir of [this.layout.root, join(this.layout.root, LABSLOT), join(this.layout.root, this.parent)]) {
        writeIfExists(dir, 'cgroup.subtree_control', '+memory +pids +cpu');
      }
    }
  }
}

function write(dir: string, file: string, value: string): void {
  writeFileSync(join(dir, file), value);
}

function writeIfExists(dir: string, file: string, value: string): void {
  const path = join(dir, file);
  if (!existsSync(path)) return;
  try {
    writeFileSync(path, value);
  } catch {
    // Optional knobs (swap accounting off, a controller busy): the limit that matters was set above.
  }
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

function counter(text: string, name: string): number {
  const match = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}
