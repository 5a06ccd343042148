// Writes a slots.toml for a test and loads it, with the state in the test's temp dir.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { LabModel } from '../../src/config/lab-model.js';
import { loadLabConfig } from '../../src/devices/load-lab-config.js';
import { openDatabase, type Db } from '../../src/db/open-database.js';
import { ensureSlotRows } from '../../src/slots/slot-states.js';

export interface LabFixture {
  dir: string;
  file: string;
  lab: LabModel;
  db: Db;
}

export function labFixture(t: TestContext, dir: string, toml: string): LabFixture {
  const file = join(dir, 'slots.toml');
  writeFileSync(file, toml);
  const lab = loadLabConfig(file, { stateDir: join(dir, 'state') });
  const db = openDatabase({ stateDir: lab.stateDir });
  ensureSlotRows(db, [...lab.slots.keys()]);
  t.after(() => db.$client.close());
  return { dir, file, lab, db };
}
