// The JSON shape of an audit event (GET /v1/events, a slot's recent events).
// Types only; slots/event-view.ts computes it.

export interface EventView {
  id: number;
  /** In a lab: the host whose event it is (its ids are the lab's). Absent on a host alone. */
  host?: string;
  at: string;
  type: string;
  slot: string | null;
  device: string | null;
  job_id: string | null;
  worker_id: string | null;
  actor: string | null;
  message: string;
  data: Record<string, unknown> | null;
}
