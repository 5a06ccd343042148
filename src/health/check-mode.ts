// Which checks a device may get now (DESIGN §2): active checks (console probe,
// command) only while every slot using it is idle; otherwise a job may be
// using the device, and only passive checks run.
import { eq, sql } from 'drizzle-orm';
import type { LabModel } from '../config/lab-model.js';
import type { Db } from '../db/open-database.js';
import { slots, type SlotUsage } from '../db/schema.js';
import type { CheckMode } from '../devices/check-result.js';

/** A slot recovering is the agent's own, like an idle one: its consoles can be probed. */
const OURS: ReadonlySet<SlotUsage> = new Set<SlotUsage>(['idle', 'recovering']);

function prepareUsage(db: Db) {
  return db
    .select({ usage: slots.usage })
    .from(slots)
    .where(eq(slots.name, sql.placeholder('name')))
    .prepare();
}

/** Prepared once per database: every device check asks (bench/idle.ts counts what building it anew cost). */
const usageFor = new WeakMap<Db, ReturnType<typeof prepareUsage>>();

export function checkModeFor(lab: LabModel, db: Db, device: string): CheckMode {
  const users = lab.devices.get(device)?.usedBy ?? [];
  let usage = usageFor.get(db);
  if (usage === undefined) {
    usage = prepareUsage(db);
    usageFor.set(db, usage);
  }
  const statement = usage;
  // One synchronous read per slot (a device has one or a few): nothing can change them in between.
  return users.every((slot) => OURS.has(statement.get({ name: slot })?.usage ?? 'idle')) ? 'active' : 'passive';
}
