// `power_after_job` (a slot's config): once a job's cleanup has finished and
// before the slot is idle again, its outlets are switched on or off so the
// next job finds the board as the lab wants it ("as-is" leaves them alone).
// A switch that fails leaves the board in an unknown state, so the slot is
// held (a `system` hold naming the outlet and why) for a person to look at,
// as a failed cleanup is.
import type { SlotModel } from '../config/lab-model.js';
import { coerceError } from '../errors.js';
import { holdSlot } from '../slots/holds.js';
import { switchSlotPower, type PowerDeps } from '../slots/slot-power.js';

export interface AfterJobLease {
  jobId: string;
  workerId: string;
}

/** Switches the slot's outlets as its config says; on failure, holds the slot. Never rejects on a failed switch. */
export async function powerAfterJob(deps: PowerDeps, slot: SlotModel, lease: AfterJobLease): Promise<void> {
  const wanted = slot.spec.power_after_job;
  if (wanted === 'as-is') return;
  try {
    await switchSlotPower(
      deps,
      { slot: slot.name, action: wanted, device: undefined },
      { actor: 'labslot', by: 'power_after_job', ...lease, slotWords: `slot ${slot.name}` },
    );
  } catch (error) {
    // The switch's own event (slot.power-failed) names each outlet; the hold keeps the slot out of rotation.
    const why = coerceError(error).message;
    deps.log.error({ slot: slot.name, job: lease.jobId, err: coerceError(error) }, 'power_after_job failed; slot held');
    holdSlot(deps.db, slot.name, {
      reason: `power_after_job = "${wanted}" failed after job ${lease.jobId}: ${why}`,
      source: 'system',
      by: 'labslot',
      ...lease,
    });
  }
}
