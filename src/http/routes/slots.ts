// Slot routes: GET /v1/slots, GET /v1/slots/:name, POST /v1/slots/:name/check.
import { Hono } from 'hono';
import { z } from 'zod';
import { recordEvent } from '../../db/event-log.js';
import { recentSlotEvents } from '../../db/event-view.js';
import { checkResultJson } from '../../devices/check-result.js';
import { holdSlot, NotHeldError, releaseSlot } from '../../slots/holds.js';
import type { HostState } from '../../slots/availability.js';
import { holdView, slotViews } from '../../slots/slot-view.js';
import type { AppDeps, AppEnv } from '../app-deps.js';
import { requireRole } from '../auth.js';
import { HttpError } from '../http-error.js';
import { jsonBody } from '../json-body.js';

/** `by` names the person (the CLI sends user@host); the token's hash prefix is recorded as the actor too. */
const by = z.string().trim().min(1).max(100).optional();
const holdBody = z.strictObject({ reason: z.string().trim().min(1, { error: 'say why the slot is held' }).max(1000), by });
const releaseBody = z.strictObject({ note: z.string().trim().max(1000).optional(), by });

export function slotRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const operator = requireRole('operator', deps.lab.config.auth);

  const slotNamed = (name: string): string => {
    if (!deps.lab.slots.has(name)) {
      throw new HttpError(404, 'slot_not_found', `no slot named "${name}" (slots: ${[...deps.lab.slots.keys()].join(', ')})`);
    }
    return name;
  };

  app.get('/', (c) => {
    const host = hostView(deps);
    return c.json({ host, slots: slotViews(deps.lab, deps.db, { historyLimit: 10, host }) });
  });

  app.get('/:name', (c) => {
    const name = slotNamed(c.req.param('name'));
    const [view] = slotViews(deps.lab, deps.db, { only: [name], historyLimit: 50, host: hostView(deps) });
    // Leases, holds, mark-broken, health transitions, cleanup failures: the slot's recent story.
    return c.json({ ...view, events: recentSlotEvents(deps.db, name, 20) });
  });

  app.post('/:name/check', operator, async (c) => {
    const name = slotNamed(c.req.param('name'));
    const slot = deps.lab.slots.get(name);
    const results = await deps.monitor.checkNow(slot?.devices ?? [], 'manual');
    recordEvent(deps.db, { type: 'slot.checked', slot: name, actor: c.get('actor'), message: `${name} checked on request` });
    const devices = [...results].map(([device, r]) => ({ name: device, ...checkResultJson(r) }));
    const [view] = slotViews(deps.lab, deps.db, { only: [name], historyLimit: 0 });
    return c.json({ slot: name, healthy: devices.every((d) => d.ok !== false), health: view?.health, results: devices });
  });

  app.post('/:name/hold', operator, async (c) => {
    const name = slotNamed(c.req.param('name'));
    const body = await jsonBody(c, holdBody);
    const hold = holdSlot(deps.db, name, { reason: body.reason, source: 'operator', by: actorName(body.by, c.get('actor')) });
    deps.log.info({ slot: name, actor: c.get('actor') }, 'slot held');
    deps.scheduler.poke();
    return c.json({ slot: name, hold: holdView(hold) });
  });

  app.post('/:name/release', operator, async (c) => {
    const name = slotNamed(c.req.param('name'));
    const body = await jsonBody(c, releaseBody);
    try {
      releaseSlot(deps.db, name, { by: actorName(body.by, c.get('actor')), note: body.note });
    } catch (error) {
      if (error instanceof NotHeldError) throw new HttpError(409, 'not_held', error.message);
      throw error;
    }
    deps.log.info({ slot: name, actor: c.get('actor') }, 'slot released');
    // A released slot proves itself again before its next lease (DESIGN §2).
    const slot = deps.lab.slots.get(name);
    const results = await deps.monitor.checkNow(slot?.devices ?? [], 'release');
    deps.scheduler.poke();
    return c.json({ slot: name, released: true, healthy: [...results.values()].every((r) => r?.ok !== false) });
  });

  return app;
}

function actorName(claimed: string | undefined, actor: string): string {
  return claimed === undefined ? actor : `${claimed} (${actor})`;
}

function hostView(deps: AppDeps): HostState & { detail: string | null } {
  const host = deps.monitor.host;
  return host === null ? { ok: null, reason: 'not checked yet', detail: null } : { ok: host.ok, reason: host.reason, detail: host.detail ?? null };
}
