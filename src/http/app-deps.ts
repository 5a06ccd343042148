// What the HTTP layer needs from the agent; tests build it from a real database.
import type { LabModel } from '../config/lab-model.js';
import type { Db } from '../db/open-database.js';
import type { HealthMonitor } from '../health/health-monitor.js';
import type { JobOutputs } from '../jobs/job-output.js';
import type { Scheduler } from '../jobs/scheduler.js';
import type { LabMember } from '../lab/lab-member.js';
import type { Logger } from '../log.js';

export interface AppDeps {
  lab: LabModel;
  db: Db;
  log: Logger;
  version: string;
  startedAt: number;
  monitor: HealthMonitor;
  scheduler: Scheduler;
  outputs: JobOutputs;
  /** This agent's membership of a lab ([lab] in the config); absent: a host alone. */
  member?: LabMember | undefined;
}

/** Values middleware hands to routes. */
export interface AppEnv {
  Variables: { actor: string };
}
