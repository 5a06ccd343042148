// The workers an agent's database knows: every worker it ever made, names and
// uids recorded before the user exists (src/jobs/worker-setup.ts), so a test
// can tell its own agent's `ls-*` users from another agent's on the same host.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DATABASE_FILE } from '../../src/db/open-database.js';

export interface WorkerRecord {
  username: string;
  uid: number;
}

export function recordedWorkers(stateDir: string): WorkerRecord[] {
  const file = join(stateDir, DATABASE_FILE);
  if (!existsSync(file)) return [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT username, uid FROM workers').all() as WorkerRecord[];
  } finally {
    db.close();
  }
}
