// Read-only slot routes: GET /v1/slots and GET /v1/slots/:name.
import { Hono } from 'hono';
import { slotViews } from '../../slots/slot-view.js';
import type { AppDeps } from '../app-deps.js';
import { HttpError } from '../http-error.js';

export function slotRoutes(deps: AppDeps): Hono {
  const app = new Hono();

  app.get('/', (c) => c.json({ slots: slotViews(deps.lab, deps.db) }));

  app.get('/:name', (c) => {
    const name = c.req.param('name');
    if (!deps.lab.slots.has(name)) {
      throw new HttpError(404, 'slot_not_found', `no slot named "${name}" (slots: ${[...deps.lab.slots.keys()].join(', ')})`);
    }
    const [view] = slotViews(deps.lab, deps.db, [name]);
    return c.json(view);
  });

  return app;
}
