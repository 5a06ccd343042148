// The host's own health (disk and memory in the state directory) as GET
// /v1/slots and the status page show it. Types only; http/host-view.ts computes it.

export interface HostView {
  /** null until the first host check. */
  ok: boolean | null;
  reason: string;
  detail: string | null;
}

/** One agent of the lab as GET /v1/hosts and `labslot hosts` show it. */
export interface LabHostView {
  name: string;
  url: string;
  version: string;
  online: boolean;
  /** When its agent last reported (heartbeat); on a host alone, now. */
  last_seen: string;
  started_at: string;
  slots: string[];
  targets: string[];
  /** The agent that answered. */
  this_host: boolean;
}
