// The host's own health (disk and memory in the state directory) as the API
// and the status page show it.
import type { HostState } from '../slots/availability.js';
import type { AppDeps } from './app-deps.js';

export type HostView = HostState & { detail: string | null };

export function hostView(deps: Pick<AppDeps, 'monitor'>): HostView {
  const host = deps.monitor.host;
  return host === null ? { ok: null, reason: 'not checked yet', detail: null } : { ok: host.ok, reason: host.reason, detail: host.detail ?? null };
}
