// The host itself: free disk in the state directory and available memory above
// the configured minimums. An unhealthy host leases nothing.
import { existsSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import si from 'systeminformation';
import type { LabModel } from '../config/lab-model.js';
import { healthy, unhealthy, type Verdict } from './check-result.js';

export interface HostMinimums {
  stateDir: string;
  minFreeDisk: number;
  minAvailableMemory: number;
}

export function hostMinimums(lab: LabModel): HostMinimums {
  return {
    stateDir: lab.stateDir,
    minFreeDisk: lab.config.health.min_free_disk,
    minAvailableMemory: lab.config.health.min_available_memory,
  };
}

export async function checkHost(min: HostMinimums): Promise<Verdict> {
  // statfs on the state directory itself answers for the file system it is on, bind mounts included.
  const fs = await statfs(nearestExisting(min.stateDir));
  const freeDisk = fs.bavail * fs.bsize;
  const memory = await si.mem();
  const problems: string[] = [];
  if (freeDisk < min.minFreeDisk)
    problems.push(`free disk in ${min.stateDir} ${gib(freeDisk)} below ${gib(min.minFreeDisk)}`);
  if (memory.available < min.minAvailableMemory)
    problems.push(`available memory ${gib(memory.available)} below ${gib(min.minAvailableMemory)}`);
  const detail = `free disk ${gib(freeDisk)}, available memory ${gib(memory.available)}`;
  return problems.length > 0
    ? unhealthy('error', `host ${problems.join('; ')}`, detail)
    : healthy('host has enough disk and memory', detail);
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}

/** Before the first start the state directory may not exist yet; its parent's file system is the one it will be on. */
function nearestExisting(path: string): string {
  let dir = path;
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}
