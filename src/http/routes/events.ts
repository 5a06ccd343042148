// GET /v1/events: the audit log, oldest first, filtered by slot and time, read forward from after_id.
import { and, asc, desc, eq, gt, gte, type SQL } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { eventView } from '../../slots/event-view.js';
import { labEventsPage } from '../../lab/lab-view.js';
import { events } from '../../db/schema.js';
import type { AppDeps, AppEnv } from '../app-deps.js';
import { HttpError } from '../http-error.js';

const query = z.strictObject({
  slot: z.string().optional(),
  /** A lab: one host's events only. */
  host: z.string().optional(),
  since: z.string().optional(),
  after_id: z.coerce.number().int().nonnegative().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export function eventRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/', async (c) => {
    const parsed = query.safeParse(c.req.query());
    if (!parsed.success)
      throw new HttpError(
        400,
        'invalid_request',
        parsed.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; '),
      );
    const { slot, host, since, after_id: afterId, limit } = parsed.data;
    const sinceMs = since === undefined ? undefined : Date.parse(since);
    if (since !== undefined && Number.isNaN(sinceMs))
      throw new HttpError(
        400,
        'invalid_request',
        `since: "${since}" is not a time (use ISO 8601, e.g. 2026-11-25T10:00:00Z)`,
      );
    // A lab: the lab's log, every host's events (ids are the lab's).
    if (deps.member !== undefined)
      return c.json({
        events: await labEventsPage(deps.member.database(), {
          slot,
          host: host === 'local' ? deps.member.name : host,
          since: sinceMs,
          afterId,
          limit,
        }),
      });
    const conditions: SQL[] = [];
    if (slot !== undefined) conditions.push(eq(events.slot, slot));
    if (sinceMs !== undefined) conditions.push(gte(events.at, sinceMs));
    if (afterId !== undefined) conditions.push(gt(events.id, afterId));
    // A starting point (after_id, since) reads forward from it: the next `limit` events, so a client
    // tailing with after_id = the last id it saw misses none. Without one: the newest `limit`.
    // Either way they come oldest first, so they read like a log.
    const forward = afterId !== undefined || since !== undefined;
    const rows = deps.db
      .select()
      .from(events)
      .where(conditions.length > 0 ? and(...conditions) : undefined)
      .orderBy(forward ? asc(events.id) : desc(events.id))
      .limit(limit)
      .all();
    if (!forward) rows.reverse();
    return c.json({
      events: rows.map((e) => eventView(e)),
    });
  });
  return app;
}
