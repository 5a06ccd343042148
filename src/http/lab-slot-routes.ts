// Slot requests in a lab (DESIGN §7): a slot of another host is that host's
// to show, hold, release, check and switch; this agent forwards the request.
// When that host is offline its slot is shown as the lab last heard of it,
// and changes wait until it is back.
import type { MiddlewareHandler } from 'hono';
import type { SlotView } from '../api/slot.js';
import { HostOfflineError } from '../lab/lab-errors.js';
import type { LabMember } from '../lab/lab-member.js';
import { labSlot, offlineDetail, otherHostsSlots, shownSlot } from '../lab/lab-view.js';
import type { AppDeps, AppEnv } from './app-deps.js';
import { proxyTo } from './lab-proxy.js';

/** Mounted on /v1/slots/:name and /v1/slots/:name/*. */
export function labSlotRouting(deps: AppDeps, member: LabMember): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const name = c.req.param('name') ?? '';
    if (deps.lab.slots.has(name)) return next();
    const found = await labSlot(member.database(), name);
    if (found === undefined || found.host === member.name) return next();
    const owner = (await member.hosts()).find((h) => h.name === found.host);
    if (owner?.online === true) return proxyTo(c, owner, member);
    if (c.req.method === 'GET' && c.req.path === `/v1/slots/${name}`)
      return c.json({ ...shownSlot(found.view, owner), events: [] });
    throw new HostOfflineError(
      `slot ${name} is on ${owner === undefined ? `host ${found.host}, which has left the lab` : offlineDetail(owner)}; ` +
        'it takes requests again when it is back',
    );
  };
}

/** `?host=`: every host's slots (absent), this agent's only ("local"), or one host's (its name). */
export async function labSlotList(
  member: LabMember,
  local: SlotView[],
  host: string | undefined,
): Promise<{ slots: SlotView[]; lab: { connected: boolean; problem: string | null } }> {
  const link = { connected: member.state.connected, problem: member.state.problem };
  if (host === 'local' || host === member.name) return { slots: local, lab: link };
  if (!member.state.connected) return { slots: host === undefined ? local : [], lab: link };
  const others = await otherHostsSlots(member.database(), await member.hosts(), member.name);
  const all = [...local, ...others].sort((a, b) => a.name.localeCompare(b.name));
  return { slots: host === undefined ? all : all.filter((s) => s.host === host), lab: link };
}
