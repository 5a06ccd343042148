// Computes the host's own health as the API and the status page show it (api/host.ts).
import type { HostView } from '../api/host.js';
import type { AppDeps } from './app-deps.js';

export function hostView(deps: Pick<AppDeps, 'monitor'>): HostView {
  const host = deps.monitor.host;
  return host === null
    ? { ok: null, reason: 'not checked yet', detail: null }
    : { ok: host.ok, reason: host.reason, detail: host.detail ?? null };
}
