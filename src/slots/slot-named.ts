// A slot named by a request (a route's :name, a job's "slot"): one check and
// one message for every place, so a typo reads the same everywhere.
import type { LabModel } from '../config/lab-model.js';

/** No configured slot has the name; http/error-map.ts answers 404 slot_not_found. */
export class SlotNotFoundError extends Error {
  override readonly name = 'SlotNotFoundError';
}

/** 'no slot named "nope" (slots: gimlet-1, gimlet-2)' */
export function unknownSlotMessage(lab: LabModel, name: string): string {
  return `no slot named "${name}" (slots: ${[...lab.slots.keys()].join(', ')})`;
}

/** The name, when this lab has such a slot; otherwise SlotNotFoundError listing the slots it has. */
export function slotNamed(lab: LabModel, name: string): string {
  if (!lab.slots.has(name)) throw new SlotNotFoundError(unknownSlotMessage(lab, name));
  return name;
}
