// GET /v1/hosts: the lab's agents (DESIGN §7), with when each last reported.
// A host alone lists itself: the same shape, so scripts need not ask which.
import { Hono } from 'hono';
import type { LabHostView } from '../../api/host.js';
import type { AppDeps, AppEnv } from '../app-deps.js';

export function hostRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/', async (c) => {
    const member = deps.member;
    if (member === undefined) {
      const now = new Date().toISOString();
      const alone: LabHostView = {
        name: deps.lab.agentName,
        // As the client reached it: a host alone advertises no URL of its own.
        url: new URL(c.req.url).origin,
        version: deps.version,
        online: true,
        last_seen: now,
        started_at: new Date(deps.startedAt).toISOString(),
        slots: [...deps.lab.slots.keys()],
        targets: [...deps.lab.targets.keys()],
        this_host: true,
      };
      return c.json({ lab: false, host_timeout_ms: null, hosts: [alone] });
    }
    const hosts = (await member.hosts()).map((h): LabHostView => ({
      name: h.name,
      url: h.url,
      version: h.version,
      online: h.online,
      last_seen: new Date(h.lastSeen).toISOString(),
      started_at: new Date(h.startedAt).toISOString(),
      slots: Object.values(h.targets)
        .flatMap((t) => t.slots)
        .sort(),
      targets: Object.keys(h.targets).sort(),
      this_host: h.name === member.name,
    }));
    return c.json({ lab: true, host_timeout_ms: member.timeoutMs, hosts });
  });
  return app;
}
