// Operator hold and release, shared by the JSON API and the status page's
// forms, so both log, re-check and wake the scheduler the same way.
import { z } from 'zod';
import { holdSlot, releaseSlot, type HoldResult } from '../slots/holds.js';
import { switchSlotPower, type PowerResult } from '../slots/slot-power.js';
import type { PowerAction } from '../devices/power-control.js';
import type { AppDeps } from './app-deps.js';

/** `by` names the person (the CLI sends user@host); the token's hash prefix is recorded as the actor too. */
const by = z.string().trim().min(1).max(100).optional();
export const holdRequest = z.strictObject({
  reason: z.string().trim().min(1, { error: 'say why the slot is held' }).max(1000),
  by,
  replace: z.boolean().optional(),
});
export const releaseRequest = z.strictObject({ note: z.string().trim().max(1000).optional(), by });
/** POST /v1/slots/:name/power and the slot page's power form; the worker route adds the job's own slot and worker. */
export const powerRequest = z.strictObject({
  action: z.enum(['on', 'off', 'cycle'], { error: 'must be "on", "off" or "cycle"' }),
  device: z.string().trim().min(1).max(200).optional(),
  by,
});

export interface OperatorAction {
  slot: string;
  /** The token's role and hash prefix (`operator:1a2b3c4d`), from the auth middleware. */
  actor: string;
  /** The name the person gave, if any; recorded beside the actor. */
  by: string | undefined;
}

/**
 * Holds the slot. A held slot is refused with SlotHeldError (a 409 `slot_held`
 * whose body carries the current hold, error-map.ts) unless `replace` is set.
 */
export function operatorHold(deps: AppDeps, action: OperatorAction & { reason: string; replace: boolean }): HoldResult {
  const result = holdSlot(deps.db, action.slot, {
    reason: action.reason,
    source: 'operator',
    by: actorName(action),
    replace: action.replace,
  });
  deps.log.info({ slot: action.slot, actor: action.actor, replaced: result.outcome === 'replaced' }, 'slot held');
  deps.scheduler.poke();
  return result;
}

/** Releases the hold (NotHeldError, a 409, if there is none) and checks the slot at once; resolves to whether the fresh check passed. */
export async function operatorRelease(
  deps: AppDeps,
  action: OperatorAction & { note: string | undefined },
): Promise<boolean> {
  releaseSlot(deps.db, action.slot, { by: actorName(action), note: action.note });
  deps.log.info({ slot: action.slot, actor: action.actor }, 'slot released');
  // A released slot proves itself again before its next lease (DESIGN §2).
  const results = await deps.monitor.checkNow(deps.lab.slots.get(action.slot)?.devices ?? [], 'release');
  deps.scheduler.poke();
  return [...results.values()].every((r) => r?.ok !== false);
}

/** Switches the slot's outlets (all, or the one named) for an operator; audited with the operator's name. */
export function operatorPower(
  deps: AppDeps,
  action: OperatorAction & { action: PowerAction; device: string | undefined },
): Promise<PowerResult> {
  return switchSlotPower(
    deps,
    { slot: action.slot, action: action.action, device: action.device },
    { actor: action.actor, by: actorName(action), slotWords: `slot ${action.slot}` },
  );
}

function actorName({ by, actor }: OperatorAction): string {
  return by === undefined ? actor : `${by} (${actor})`;
}
