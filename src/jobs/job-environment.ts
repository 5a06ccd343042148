// The environment a job starts with (DESIGN §3): who and where it is, its
// devices, a HUMILITY_ENVIRONMENT file naming the slot's probes, the slot's
// env table and the job's own, a PATH with `labslot` on it. Nothing from the
// agent's own environment leaks in.
import type { LabModel, SlotModel } from '../config/lab-model.js';
import { deviceEnvName, deviceEnvValue } from '../devices/device-node.js';
import { OUTPUT_IN_JOB } from './job-paths.js';
import { jobTlsEnvironment } from './job-tls.js';

export interface WorkerIdentity {
  workerId: string;
  jobId: string;
  username: string;
  token: string;
  home: string;
  work: string;
  tmp: string;
  humilityFile: string;
  /** Resolved node per device name (null for devices without one). */
  nodes: ReadonlyMap<string, string | null>;
}

export interface EnvironmentContext {
  lab: LabModel;
  slot: SlotModel;
  agentUrl: string;
  commandDir: string;
  jobEnv: Readonly<Record<string, string>>;
}

export function jobEnvironment(ctx: EnvironmentContext, worker: WorkerIdentity): Record<string, string> {
  const devices: Record<string, string> = {};
  for (const name of ctx.slot.devices) {
    const spec = ctx.lab.devices.get(name)?.spec;
    const value = spec ? deviceEnvValue(spec, worker.nodes.get(name) ?? null) : undefined;
    if (value !== undefined) devices[deviceEnvName(name)] = value;
  }
  return {
    // The slot's table, then the job's, then ours: the schema keeps the first two off our names.
    ...ctx.slot.spec.env,
    ...ctx.jobEnv,
    ...devices,
    LABSLOT_URL: ctx.agentUrl,
    ...jobTlsEnvironment(ctx.lab.config, ctx.commandDir),
    LABSLOT_TOKEN: worker.token,
    LABSLOT_WORKER: worker.workerId,
    LABSLOT_JOB: worker.jobId,
    LABSLOT_SLOT: ctx.slot.name,
    LABSLOT_TARGET: ctx.slot.target,
    // Files written here survive cleanup: GET /v1/jobs/:id/outputs.
    LABSLOT_OUTPUT: OUTPUT_IN_JOB,
    HUMILITY_ENVIRONMENT: worker.humilityFile,
    HOME: worker.home,
    USER: worker.username,
    LOGNAME: worker.username,
    SHELL: '/bin/sh',
    TMPDIR: worker.tmp,
    PATH: `${ctx.commandDir}:/usr/local/bin:/usr/bin:/bin`,
    LANG: 'C.UTF-8',
  };
}
