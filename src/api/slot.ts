// The JSON shape of a slot as GET /v1/slots, `labslot slots --json` and the
// status page show it. Types only; slots/slot-view.ts computes them.
import type { DeviceHealthState, SlotUsage } from '../db/schema.js';

export interface HoldView {
  reason: string;
  source: string;
  by: string | null;
  at: string;
  job_id: string | null;
  worker_id: string | null;
}

/** Why a job could not be given the slot now. */
export type Unavailable =
  | { kind: 'held'; detail: string }
  | { kind: 'in-use'; detail: string }
  | { kind: 'conflict'; detail: string }
  | { kind: 'unhealthy'; detail: string }
  | { kind: 'unknown-health'; detail: string }
  | { kind: 'host'; detail: string };

export interface DeviceView {
  name: string;
  kind: string;
  description: string | null;
  summary: string;
  shared_with: string[];
  health: DeviceHealthState;
  health_since: string | null;
  consecutive_failures: number;
  consecutive_successes: number;
  total_checks: number;
  total_failures: number;
  last_check: {
    ok: boolean;
    reason: string | null;
    detail: string | null;
    duration_ms: number | null;
    at: string | null;
  } | null;
  /** Newest first. */
  history: { ok: boolean; reason: string; duration_ms: number; at: string; trigger: string }[];
}

export interface SlotView {
  name: string;
  /** The agent that has the slot: this one, or (in a lab) another host. */
  host: string;
  target: string;
  description: string | null;
  usage: SlotUsage;
  usage_since: string;
  lease: { job_id: string; worker_id: string | null } | null;
  hold: HoldView | null;
  health: DeviceHealthState;
  /** Whether a job could be given this slot now (before its pre-lease check), and if not, why. */
  available: boolean;
  unavailable: Unavailable | null;
  conflicts_with: string[];
  devices: DeviceView[];
}
