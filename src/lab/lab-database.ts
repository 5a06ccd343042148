// The lab's shared PostgreSQL database (DESIGN §7): a pool of connections,
// its schema brought up to date with drizzle-lab/ under an advisory lock (the
// agents of a lab may start together), and errors that say what went wrong
// in an operator's words, never with the password.
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { parseIntoClientConfig } from 'pg-connection-string';
import { fileProblem } from '../config/file-problem.js';
import type { LabSettings } from '../config/schema.js';
import { coerceError } from '../errors.js';
import type { Logger } from '../log.js';
import * as schema from './lab-schema.js';

export type LabDb = NodePgDatabase<typeof schema> & { $client: pg.Pool };

/** drizzle-lab/ sits at the package root, two levels above both src/lab and dist/lab. */
export const LAB_MIGRATIONS_DIR = fileURLToPath(new URL('../../drizzle-lab', import.meta.url));

/** Any number: every labslot agent takes the same one while it migrates. */
const MIGRATION_LOCK = 0x1ab5_107;
/** A connection attempt that takes longer is a database that is not there. */
const CONNECT_TIMEOUT_MS = 5_000;

export class LabDatabaseError extends Error {
  override readonly name = 'LabDatabaseError';
}

/** The database's URL as logs and errors show it: user, host, port and database, never a password. */
export function describeDatabase(url: string): string {
  const parsed = new URL(url);
  parsed.password = '';
  return parsed.toString();
}

/** Reads `[lab] database_file`; a password file others can read is refused, like ssh refuses such a key. */
export function readDatabasePassword(file: string): string {
  let mode: number;
  let text: string;
  try {
    mode = statSync(file).mode;
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new LabDatabaseError(`[lab] database_file ${file}: ${fileProblem(error)}`, { cause: error });
  }
  if ((mode & 0o077) !== 0)
    throw new LabDatabaseError(
      `[lab] database_file ${file} can be read by others (mode ${(mode & 0o777).toString(8)}): chmod 600 it`,
    );
  return text.replace(/\r?\n$/, '');
}

/**
 * How to connect, from the URL (pg's own parser: sslmode, sslrootcert, a unix
 * socket host) and the password file. Not `connectionString`: pg would let the
 * URL's absent password override the file's.
 */
export function connectionConfig(settings: LabSettings, configFile: string): pg.ClientConfig {
  // Relative to the config file, like every other path in it.
  const file = settings.database_file === undefined ? undefined : resolve(dirname(configFile), settings.database_file);
  const password = file === undefined ? undefined : readDatabasePassword(file);
  return { ...parseIntoClientConfig(settings.database), ...(password === undefined ? {} : { password }) };
}

export function labPool(
  settings: LabSettings,
  configFile: string,
  agentName: string,
  size: number,
  log: Logger,
): pg.Pool {
  const pool = new pg.Pool({
    ...connectionConfig(settings, configFile),
    max: size,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    application_name: `labslot ${agentName}`.slice(0, 63),
    // A statement stuck behind a lock or a dead server must not hold a lease forever.
    query_timeout: 30_000,
    keepAlive: true,
  });
  // An idle client whose server went away emits 'error' on the pool: unhandled, it would end the agent.
  pool.on('error', (error) => log.warn({ err: error }, 'lab database connection lost'));
  // A client checked out (a transaction between its queries, a claim's pre-lease check) has no pool
  // listener: the database stopping would be an uncaught 'error' that stops the agent and its jobs.
  // Its query or commit fails anyway, and the member relinks; this only keeps the agent up.
  pool.on('connect', (client) =>
    client.on('error', (error) => log.warn({ err: error }, 'lab database connection lost under a query')),
  );
  return pool;
}

export function labDb(pool: pg.Pool): LabDb {
  return drizzle(pool, { schema });
}

/** Brings the shared schema up to date; agents starting together wait for each other on the lock. */
export async function migrateLab(pool: pg.Pool, migrationsFolder = LAB_MIGRATIONS_DIR): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await migrate(drizzle(client, { schema }), { migrationsFolder });
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}

/** Why the database cannot be used, in one phrase: "connection refused", "password authentication failed ...". */
export function databaseProblem(error: unknown): string {
  const e = error as { code?: string; message?: string; errors?: unknown[] };
  if (e.code === 'ECONNREFUSED') return 'connection refused (is PostgreSQL running there?)';
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return 'the host name does not resolve';
  if (e.code === 'ETIMEDOUT') return 'the connection timed out';
  if (e.code === '28P01') return `${e.message ?? 'password authentication failed'} (check [lab] database_file)`;
  if (e.code === '3D000') return `${e.message ?? 'the database does not exist'} (create it: README "Running a lab")`;
  if (e.code === '57P01' || e.code === '57P03') return 'the database server is shutting down or starting up';
  if (Array.isArray(e.errors) && e.errors.length > 0) return databaseProblem(e.errors[0]);
  return coerceError(error).message || (e.code ?? 'unknown error');
}
