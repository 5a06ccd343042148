// Opens (or creates) the agent's SQLite database in the state directory and
// brings its schema up to date with the committed migrations in drizzle/.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import * as schema from './schema.js';
import { withStatementCache } from './statement-cache.js';

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
  // SQLite takes an empty file for a new database, and would make it one: every hold and all history
  // gone without a word. A database the agent made is never empty (WAL mode writes its header first).
  if (existsSync(file) && statSync(file).size === 0) {
    throw new DatabaseError(
      `the database ${file} is empty (0 bytes), so its holds and history are lost; the agent will not start on it. ` +
        `Restore it from a backup, or, to start with no history on purpose, move it away first (mv ${file} ${file}.empty)`,
    );
  }
  let client: Database.Database | undefined;
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o750 });
    client = new Database(file, { timeout: 5_000 });
    refuseDamaged(client, file);
    // WAL lets HTTP readers run while the scheduler writes; NORMAL sync is durable in WAL mode
    // across process crashes, which is the failure the agent must survive.
    client.pragma('journal_mode = WAL');
    client.pragma('synchronous = NORMAL');
    client.pragma('foreign_keys = ON');
    client.pragma('busy_timeout = 5000');
    const db = drizzleOver(client);
    migrate(db, { migrationsFolder: migrationsDir });
    return db;
  } catch (error) {
    client?.close();
    const reason = error instanceof Error ? error.message : String(error);
    throw new DatabaseError(`cannot open the database ${file}: ${reason}`, { cause: error });
  }
}

/** drizzle over `client`, reusing its prepared statements (statement-cache.ts); $client is `client` itself. */
function drizzleOver(client: Database.Database): Db {
  const db = drizzle(withStatementCache(client), { schema });
  db.$client = client;
  return db;
}

/**
 * A damaged file opens fine and fails later, on whichever page is bad (a 500
 * in the middle of a lease). quick_check reads every page once, before the
 * agent writes anything to it. Refused, the file stays exactly as it was.
 */
function refuseDamaged(client: Database.Database, file: string): void {
  const problems = (client.pragma('quick_check(5)') as { quick_check: string }[]).map((row) => row.quick_check);
  if (problems.length === 1 && problems[0] === 'ok') return;
  throw new DatabaseError(
    `the database ${file} is damaged (${problems.join('; ')}); the agent will not start on it. ` +
      `Stop here and keep the file: copy it aside, then restore a backup, or salvage what it holds with ` +
      `sqlite3 ${file}.damaged .recover | sqlite3 ${file} after moving it to ${file}.damaged`,
  );
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
    return drizzleOver(client);
  } catch (error) {
    throw new DatabaseError(
      `cannot read the database ${file}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}
