// Where a submitted job may run (`job run --slot`, "slot" in POST /v1/jobs):
// any slot of its target, or the one slot it names. A named slot is checked at
// submission, so a mistake fails at once instead of waiting in the queue for
// ever: an unknown name, a slot of another target, or a held slot (a hold
// keeps a slot out of rotation until an operator releases it), unless an
// operator allows the job on it to debug it.
import type { LabModel } from '../config/lab-model.js';
import type { Db } from '../db/open-database.js';
import { SlotNotFoundError, unknownSlotMessage } from '../slots/slot-named.js';
import { readSlotStates } from '../slots/slot-states.js';
import { HeldSlotRefusedError, JobRefusedError } from './job-refusals.js';

export interface JobPlacement {
  target: string;
  /** The one slot the job may run on; null: any slot of the target. */
  slot: string | null;
  /** Who allowed the job on a held slot (the submitting operator); null when it may not run on one. */
  allowHeldBy: string | null;
}

/** Checks a submission's slot against the lab; `by` is the submitter, an operator whenever `allow_held` (the route makes sure). */
export function placeJob(
  db: Pick<Db, 'select'>,
  lab: LabModel,
  request: { target?: string | undefined; slot?: string | undefined; allow_held: boolean },
  by: string,
): JobPlacement {
  // The request schema asks for a target when there is no slot.
  if (request.slot === undefined) return { target: request.target ?? '', slot: null, allowHeldBy: null };
  const slot = lab.slots.get(request.slot);
  if (slot === undefined) throw new SlotNotFoundError(unknownSlotMessage(lab, request.slot));
  if (request.target !== undefined && request.target !== slot.target)
    throw new JobRefusedError(
      'slot',
      `slot "${slot.name}" serves target "${slot.target}", not target "${request.target}" (leave out the target, or name a slot of it)`,
    );
  const hold = readSlotStates(db, [slot.name]).get(slot.name)?.hold ?? null;
  if (hold !== null && !request.allow_held) throw new HeldSlotRefusedError(slot.name, hold);
  return { target: slot.target, slot: slot.name, allowHeldBy: request.allow_held ? by : null };
}
