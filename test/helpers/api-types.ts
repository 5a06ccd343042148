// The API's JSON shapes as the agent itself declares them. Tests read responses
// as these instead of redeclaring fields, so a renamed or retyped field breaks
// the test's compile rather than passing unnoticed. Every test imports them
// from here and not from src/ directly: when the shapes move in src/, only
// this file changes.
import type { CheckResultJson } from '../../src/devices/check-result.js';
import type { EventView } from '../../src/api/event.js';
import type { HostView } from '../../src/api/host.js';
import type { SlotView } from '../../src/api/slot.js';

export type { CheckResultJson } from '../../src/devices/check-result.js';
export type { EventView } from '../../src/api/event.js';
export type { HostView, LabHostView } from '../../src/api/host.js';
export type { JobView } from '../../src/api/job.js';
export type { DeviceView, HoldView, SlotView } from '../../src/api/slot.js';

/** GET /v1/slots/:name: the slot's view and its recent events (src/http/routes/slots.ts). */
export type SlotDetailView = SlotView & { events: EventView[] };

/** GET /v1/slots. */
export interface SlotListView {
  host: HostView;
  slots: SlotView[];
}

/** GET /v1/events. */
export interface EventListView {
  events: EventView[];
}

/**
 * What `labslot check --json` prints. src/cli/check-run.ts builds it inline
 * from CheckResultJson, so it has no type of its own to import; it is spelled
 * out once here from that part.
 */
export interface CheckJson {
  healthy: boolean;
  host: CheckResultJson;
  slots: { name: string; target: string; healthy: boolean; devices: CheckDeviceJson[] }[];
}

export type CheckDeviceJson = { name: string; kind: string } & CheckResultJson;
