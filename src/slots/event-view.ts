// An audit event's JSON shape (api/event.ts), from a row of a host's own log
// (db/schema.ts `events`) or of the lab's (lab/lab-schema.ts `lab_events`,
// which adds the host): one mapping for /v1/events, a slot's status and the
// status page, alone or in a lab.
import type { EventView } from '../api/event.js';

/** The fields both logs have, as drizzle reads them. */
export interface EventFields {
  id: number;
  at: number;
  type: string;
  slot: string | null;
  device: string | null;
  jobId: string | null;
  workerId: string | null;
  actor: string | null;
  message: string;
  data: Record<string, unknown> | null;
}

export function eventView(e: EventFields, host?: string): EventView {
  return {
    id: e.id,
    ...(host === undefined ? {} : { host }),
    at: new Date(e.at).toISOString(),
    type: e.type,
    slot: e.slot,
    device: e.device,
    job_id: e.jobId,
    worker_id: e.workerId,
    actor: e.actor,
    message: e.message,
    data: e.data,
  };
}
