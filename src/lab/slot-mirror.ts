// This host's slots as the lab sees them (DESIGN §7): each slot's view, as
// this host's GET /v1/slots shows it, kept in lab_slots whenever it changes;
// and, per target, what the host's slots can take, for submissions and
// "waiting" on any agent.
import { sql } from 'drizzle-orm';
import type { LabModel } from '../config/lab-model.js';
import type { Db } from '../db/open-database.js';
import { humilityNames } from '../jobs/humility-environment.js';
import { slotAvailability, slotWaitingReason, waitingReason, type HostState } from '../slots/availability.js';
import { slotViews } from '../slots/slot-view.js';
import type { LabDb } from './lab-database.js';
import { labSlots, type HostTarget } from './lab-schema.js';

export class SlotMirror {
  private readonly pushed = new Map<string, string>();

  constructor(
    private readonly lab: LabModel,
    private readonly db: Db,
    private readonly hostName: string,
    private readonly host: () => HostState,
  ) {}

  /** After a reconnection every view is pushed again: the lab may have missed any of them. */
  forget(): void {
    this.pushed.clear();
  }

  targets(): Record<string, HostTarget> {
    const availability = slotAvailability(this.lab, this.db, this.host());
    const out: Record<string, HostTarget> = {};
    for (const [target, slots] of this.lab.targets) {
      out[target] = {
        slots: [...slots],
        probes: humilityNames(this.lab, target),
        waiting: waitingReason(this.lab, target, availability).slice(target.length + 2),
        slotWaiting: Object.fromEntries(
          slots.map((slot) => [slot, slotWaitingReason(slot, availability.get(slot)).slice(`slot ${slot}: `.length)]),
        ),
      };
    }
    return out;
  }

  async flush(labDb: LabDb): Promise<void> {
    const views = slotViews(this.lab, this.db, { historyLimit: 0, host: this.host() });
    const changed = views.filter((v) => this.pushed.get(v.name) !== JSON.stringify(v));
    if (changed.length === 0) return;
    await labDb
      .insert(labSlots)
      .values(
        changed.map((v) => ({
          name: v.name,
          host: this.hostName,
          target: v.target,
          view: v as unknown as Record<string, unknown>,
          updatedAt: Date.now(),
        })),
      )
      .onConflictDoUpdate({
        target: labSlots.name,
        set: {
          host: sql`excluded.host`,
          target: sql`excluded.target`,
          view: sql`excluded.view`,
          updatedAt: sql`excluded.updated_at`,
        },
      });
    for (const v of changed) this.pushed.set(v.name, JSON.stringify(v));
  }
}
