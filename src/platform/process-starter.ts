// How runProcess starts a program: through the agent's small spawner process
// (spawner-client.ts) when the build compiled it and it answers, else with
// Node's own spawn (direct-starter.ts). The agent logs which ("agent
// listening", field programs). Both keep one contract: the program runs in a process
// group of its own with stdin /dev/null and stdout+stderr to onOutput;
// kill() sends SIGKILL to that group; once the program has exited, its group
// is killed too, so what it left behind cannot hold its output open.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { directStarter } from './direct-starter.js';
import { SPAWNER_PATH, SpawnerStarter } from './spawner-client.js';

export type ProcessEnd =
  | { code: number | null; signal: NodeJS.Signals | null; spawnError?: undefined }
  | { spawnError: NodeJS.ErrnoException };

export interface StartedProcess {
  /** Settles once the program has exited and what it printed has been passed on; never rejects. */
  exited: Promise<ProcessEnd>;
  /** SIGKILL to the program's group; nothing once it has exited. */
  kill(): void;
}

export interface StartOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * The program takes a lock the whole host queues on (the shadow tools' lock on /etc/passwd): the
   * spawner runs it at real-time priority where the host allows, so the work of the slots waiting for
   * that lock cannot preempt it while it holds it. Node's spawn cannot; it runs it as any other.
   */
  holdsHostLock?: boolean;
}

export interface ProcessStarter {
  readonly kind: 'spawner' | 'direct';
  /** Throws only for arguments no program can take (a NUL byte), as Node's spawn does. */
  start(
    program: string,
    args: readonly string[],
    options: StartOptions,
    onOutput: (chunk: Buffer) => void,
  ): StartedProcess;
}

let chosen: ProcessStarter | undefined;

/**
 * Chosen once per process. The spawner is asked to answer once first, so a
 * binary that cannot run here (built for another architecture, say) leaves
 * the agent on Node's spawn instead of failing every check.
 */
export function processStarter(): ProcessStarter {
  chosen ??= spawnerRuns(SPAWNER_PATH) ? new SpawnerStarter(SPAWNER_PATH) : directStarter;
  return chosen;
}

let jobs: SpawnerStarter | undefined;

/**
 * Jobs get a spawner of their own, where there is one: a program that will not die (the spawner is
 * killed when it does not answer a kill) then never takes running jobs along, and a job's output being
 * written into its file never holds up a device check.
 */
export function jobSpawner(): SpawnerStarter | undefined {
  const programs = processStarter();
  if (!(programs instanceof SpawnerStarter)) return undefined;
  jobs ??= new SpawnerStarter(programs.path);
  return jobs;
}

function spawnerRuns(path: string): boolean {
  if (!existsSync(path)) return false;
  const probe = spawnSync(path, ['--probe'], { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] });
  return probe.status === 0 && probe.stdout.trim() === 'labslot-spawner 2';
}
