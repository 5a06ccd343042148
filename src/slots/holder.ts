// Who holds a slot, in words for people. Apart from slot-view so that
// `labslot slots` can print holders without loading the database layer.

import type { HoldView } from '../api/slot.js';

/** Who holds it, for people: "operator alice@host (operator:1a2b3c4d)", "job jmp9gt37n78q" (the source once). */
export function holder(hold: HoldView): string {
  if (hold.by === null) return hold.source;
  return hold.by.startsWith(`${hold.source} `) ? hold.by : `${hold.source} ${hold.by}`;
}
