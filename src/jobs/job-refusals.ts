// Why a well-formed submission is refused: a target no slot serves, a value
// over this host's limits, a named slot that is held. Apart from the queue so
// that checks of their own (slot-request.ts) throw the same classes.
import type { LabModel } from '../config/lab-model.js';
import { holdSummary } from '../slots/hold-message.js';
import type { Hold } from '../slots/slot-states.js';
import { holdView } from '../slots/slot-view.js';

export class UnknownTargetError extends Error {
  override readonly name = 'UnknownTargetError';
}

/** "no slot serves target "x" on lab-1 (targets: gimlet, sidecar)": the same words for a submission and a job list filter. */
export function unknownTargetMessage(lab: LabModel, target: string): string {
  return `no slot serves target "${target}" on ${lab.agentName} (targets: ${[...lab.targets.keys()].sort().join(', ')})`;
}

/** A submission this host refuses, though it is well-formed (a timeout over the host's limit); `field` is the request's key at fault. */
export class JobRefusedError extends Error {
  override readonly name = 'JobRefusedError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** A named slot is held and the job may not run there (no operator's "allow_held"); answered 409 slot_held with the hold. */
export class HeldSlotRefusedError extends Error {
  override readonly name = 'HeldSlotRefusedError';
  constructor(
    readonly slot: string,
    readonly hold: Hold,
  ) {
    super(
      `slot ${slot} is held by ${holdSummary(holdView(hold))}; a job for it would wait until the hold is released, so it is refused ` +
        '(an operator may run a job on a held slot to debug it: "allow_held": true, labslot job run --allow-held)',
    );
  }
}
