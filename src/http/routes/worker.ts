// POST /v1/worker/mark-broken: a job says its slot is broken. The slot is held
// (source "job") until an operator releases it, and the job ends as an
// infrastructure failure once it has had a moment to finish on its own. A
// slot that is already held keeps its hold (an operator's "reflashing RoT"
// is not replaced by the job's message); the message is in the events.
// POST /v1/worker/power: a job switches its own slot's outlets (DESIGN §8).
import { Hono } from 'hono';
import { z } from 'zod';
import { recordEvent } from '../../db/event-log.js';
import { hasRecovery } from '../../health/recovery-plan.js';
import { holdSlot } from '../../slots/holds.js';
import { holdView } from '../../slots/slot-view.js';
import { switchSlotPower } from '../../slots/slot-power.js';
import type { AppDeps } from '../app-deps.js';
import { HttpError } from '../http-error.js';
import { jsonBody } from '../json-body.js';
import { powerRequest } from '../slot-actions.js';
import { requireWorker, type AuthenticatedWorker, type WorkerEnv } from '../worker-auth.js';

const markBrokenBody = z.strictObject({
  message: z.string().trim().min(1, { error: 'say what is broken' }).max(1000),
  // What the job believes it is ($LABSLOT_SLOT, $LABSLOT_WORKER): a token used from another job is refused.
  slot: z.string().optional(),
  worker: z.string().optional(),
});

// The job's own outlets: the slot is the token's, never the body's (which only says what the job believes).
const workerPowerBody = powerRequest.omit({ by: true }).extend({
  slot: z.string().optional(),
  worker: z.string().optional(),
});

/** A token used from another job (its $LABSLOT_SLOT or $LABSLOT_WORKER differ) is refused. */
function requireOwnToken(
  worker: AuthenticatedWorker,
  body: { slot?: string | undefined; worker?: string | undefined },
): void {
  if (
    (body.slot !== undefined && body.slot !== worker.slot) ||
    (body.worker !== undefined && body.worker !== worker.id)
  ) {
    throw new HttpError(
      403,
      'forbidden',
      `this token belongs to worker ${worker.id} in slot ${worker.slot}, not to ${body.worker ?? '?'} in ${body.slot ?? '?'}`,
    );
  }
}

export function workerRoutes(deps: AppDeps): Hono<WorkerEnv> {
  const app = new Hono<WorkerEnv>();
  const worker = requireWorker(deps.db, deps.lab.config.auth);
  app.post('/mark-broken', worker, async (c) => {
    const worker = c.get('worker');
    const body = await jsonBody(c, markBrokenBody);
    requireOwnToken(worker, body);
    const by = `job ${worker.jobId}`;
    // recover-then-hold: the hold stands until recovery, after the job's cleanup, brings the slot back (or not).
    const slot = deps.lab.slots.get(worker.slot);
    const recoverFirst =
      slot !== undefined &&
      (slot.spec.on_mark_broken ?? deps.lab.config.recovery.on_mark_broken) === 'recover-then-hold' &&
      hasRecovery(deps.lab, slot);
    const held = holdSlot(deps.db, worker.slot, {
      reason: recoverFirst ? `${body.message} (recovery runs after the job; the hold stays if it fails)` : body.message,
      source: 'job',
      by,
      jobId: worker.jobId,
      workerId: worker.id,
      recoverFirst,
    });
    recordEvent(deps.db, {
      type: 'slot.marked-broken',
      slot: worker.slot,
      jobId: worker.jobId,
      workerId: worker.id,
      actor: by,
      message: `${worker.slot} marked broken by job ${worker.jobId}: ${body.message}`,
    });
    deps.scheduler.leaseOfWorker(worker.id)?.markBroken(body.message);
    deps.log.warn({ slot: worker.slot, job: worker.jobId, worker: worker.id }, 'slot marked broken by its job');
    return c.json({
      slot: worker.slot,
      job_id: worker.jobId,
      worker_id: worker.id,
      hold: holdView(held.hold),
      already_held: held.outcome === 'kept',
    });
  });
  // POST /v1/worker/power: the job switches its own slot's outlets; another slot's is a 403 naming both slots.
  app.post('/power', worker, async (c) => {
    const worker = c.get('worker');
    const body = await jsonBody(c, workerPowerBody);
    requireOwnToken(worker, body);
    const result = await switchSlotPower(
      deps,
      { slot: worker.slot, action: body.action, device: body.device },
      {
        actor: c.get('actor'),
        by: `job ${worker.jobId} (worker ${worker.id})`,
        jobId: worker.jobId,
        workerId: worker.id,
        slotWords: `this job's slot ${worker.slot}`,
      },
    );
    return c.json({ ...result, job_id: worker.jobId, worker_id: worker.id });
  });
  return app;
}
