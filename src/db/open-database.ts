// Opens (or creates) the agent's SQLite database in the state directory and
// brings its schema up to date with the committed migrations in drizzle/.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import * as schema from './schema.js';

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

export class DatabaseError extends Error {
  override readonly name = 'DatabaseError';
}

export const DATABASE_FILE = 'labslot.db';

/** drizzle/ sits at the package root, two levels above both src/db and dist/db. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../drizzle', import.meta.url));

export interface OpenDatabaseOptions {
  stateDir: string;
  migrationsDir?: string;
}

export function openDatabase({ stateDir, migrationsDir = MIGRATIONS_DIR }: OpenDatabaseOptions): Db {
  const file = join(stateDir, DATABASE_FILE);
  let client: Database.Database | undefined;
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o750 });
    client = new Database(file, { timeout: 5_000 });
    // WAL lets HTTP readers run while the scheduler writes; NORMAL sync is durable in WAL mode
    // across process crashes, which is the failure the agent must survive.
    client.pragma('journal_mode = WAL');
    client.pragma('synchronous = NORMAL');
    client.pragma('foreign_keys = ON');
    client.pragma('busy_timeout = 5000');
    const db = drizzle(client, { schema });
    migrate(db, { migrationsFolder: migrationsDir });
    return db;
  } catch (error) {
    client?.close();
    const reason = error instanceof Error ? error.message : String(error);
    throw new DatabaseError(`cannot open the database ${file}: ${reason}`, { cause: error });
  }
}

/**
 * The agent's database for a command that only reads it (`labslot check` on a
 * lab host): undefined when there is none yet. Never migrates or creates.
 */
export function openDatabaseReadOnly(stateDir: string): Db | undefined {
  const file = join(stateDir, DATABASE_FILE);
  if (!existsSync(file)) return undefined;
  try {
    const client = new Database(file, { readonly: true, fileMustExist: true, timeout: 5_000 });
    return drizzle(client, { schema });
  } catch (error) {
    throw new DatabaseError(`cannot read the database ${file}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}
