// The host's own health (disk and memory in the state directory) as GET
// /v1/slots and the status page show it. Types only; http/host-view.ts computes it.

export interface HostView {
  /** null until the first host check. */
  ok: boolean | null;
  reason: string;
  detail: string | null;
}
