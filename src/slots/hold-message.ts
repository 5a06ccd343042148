// A hold in one line, for the refusal of a second hold (API, status page and
// CLI say it alike) and for the audit event of a replacement. Light, like
// holder.ts: the CLI words the agent's 409 answer with it.
import type { HoldView } from '../api/slot.js';
import { holder } from './holder.js';

/** "operator alice@lab-1 (operator:1a2b3c4d) since 2025-06-01T10:00:00Z: reflashing RoT": who, since when (to the second) and why. */
export function holdSummary(hold: HoldView): string {
  return `${holder(hold)} since ${hold.at.replace(/\.\d{3}Z$/, 'Z')}: ${hold.reason}`;
}

/** Why a second hold is refused: "slot gimlet-1 is already held by operator alice@lab-1 (...) since ...: reflashing RoT". */
export function heldMessage(slot: string, hold: HoldView): string {
  return `slot ${slot} is already held by ${holdSummary(hold)}`;
}
