// Slot routes: GET /v1/slots, GET /v1/slots/:name, POST /v1/slots/:name/{check,hold,release,power}.
import { Hono } from 'hono';
import { recordEvent } from '../../db/event-log.js';
import { recentSlotEvents } from '../event-view.js';
import { checkResultJson } from '../../devices/check-result.js';
import { slotNamed as slotNamedIn } from '../../slots/slot-named.js';
import { holdView, slotViews } from '../../slots/slot-view.js';
import type { AppDeps, AppEnv } from '../app-deps.js';
import { requireRole } from '../auth.js';
import { hostView } from '../host-view.js';
import { jsonBody } from '../json-body.js';
import { labSlotList } from '../lab-slot-routes.js';
import {
  holdRequest,
  operatorHold,
  operatorPower,
  operatorRelease,
  powerRequest,
  releaseRequest,
} from '../slot-actions.js';

export function slotRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const operator = requireRole('operator', deps.lab.config.auth);

  const slotNamed = (name: string): string => slotNamedIn(deps.lab, name);

  app.get('/', async (c) => {
    const host = hostView(deps);
    const local = slotViews(deps.lab, deps.db, { historyLimit: 10, host });
    if (deps.member === undefined) return c.json({ host, slots: local });
    // A lab: every host's slots, each with its host (DESIGN §7); ?host=local for this agent's only.
    return c.json({ host, ...(await labSlotList(deps.member, local, c.req.query('host'))) });
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
    recordEvent(deps.db, {
      type: 'slot.checked',
      slot: name,
      actor: c.get('actor'),
      message: `${name} checked on request`,
    });
    const devices = [...results].map(([device, r]) => ({ name: device, ...checkResultJson(r) }));
    const [view] = slotViews(deps.lab, deps.db, { only: [name], historyLimit: 0 });
    return c.json({
      slot: name,
      healthy: devices.every((d) => d.ok !== false),
      health: view?.health,
      results: devices,
    });
  });

  app.post('/:name/hold', operator, async (c) => {
    const name = slotNamed(c.req.param('name'));
    const body = await jsonBody(c, holdRequest);
    const held = operatorHold(deps, {
      slot: name,
      actor: c.get('actor'),
      by: body.by,
      reason: body.reason,
      replace: body.replace === true,
    });
    return c.json({
      slot: name,
      hold: holdView(held.hold),
      replaced: held.previous === null ? null : holdView(held.previous),
    });
  });

  app.post('/:name/release', operator, async (c) => {
    const name = slotNamed(c.req.param('name'));
    const body = await jsonBody(c, releaseRequest);
    const healthy = await operatorRelease(deps, { slot: name, actor: c.get('actor'), by: body.by, note: body.note });
    return c.json({ slot: name, released: true, healthy });
  });

  // Switches the slot's outlets; a device of another slot is a 403, an unknown one a 404 (error-map.ts).
  app.post('/:name/power', operator, async (c) => {
    const name = slotNamed(c.req.param('name'));
    const body = await jsonBody(c, powerRequest);
    const result = await operatorPower(deps, {
      slot: name,
      actor: c.get('actor'),
      by: body.by,
      action: body.action,
      device: body.device,
    });
    return c.json(result);
  });

  return app;
}
