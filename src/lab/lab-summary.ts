// What /metrics says about the lab as a whole (DESIGN §7): the shared queue's
// depth and oldest age per target, and how many hosts are online. One agent
// reports them, so that a sum over the lab's scrapes counts each job once: the
// online host whose name sorts first. When it goes offline the next one takes
// over within [lab] host_timeout.
import type { LabDb } from './lab-database.js';
import type { LabHost } from './lab-hosts.js';
import { labQueueByTarget } from './lab-jobs.js';

export interface LabSummary {
  /** This agent is the one that reports the lab-wide figures. */
  reporter: boolean;
  queues: Map<string, { queued: number; oldestAt: number }>;
  /** Every target a host of the lab serves, so "nothing queued" reads 0. */
  targets: string[];
  hostsOnline: number;
  hostsOffline: number;
}

export async function readLabSummary(db: LabDb, hosts: readonly LabHost[], me: string): Promise<LabSummary> {
  const online = hosts.filter((h) => h.online);
  const reporter = online.map((h) => h.name).sort()[0] === me;
  return {
    reporter,
    queues: reporter ? await labQueueByTarget(db) : new Map<string, { queued: number; oldestAt: number }>(),
    targets: [...new Set(hosts.flatMap((h) => Object.keys(h.targets)))].sort(),
    hostsOnline: online.length,
    hostsOffline: hosts.length - online.length,
  };
}
