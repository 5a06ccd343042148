// A bounded cache of prepared statements for drizzle's better-sqlite3 session.
// drizzle prepares a fresh statement for every query it runs; compiling the
// same SQL text again and again was the agent's top JavaScript item in a
// lease's CPU profile (about 5 ms of ~40 ms). Here repeated SQL text reuses its
// statement, least recently used first out, so SQL built with a varying shape
// (IN lists) cannot grow memory without bound.
//
// Only drizzle gets cached statements: it is handed a view of the connection
// whose prepare() is cached, while db.$client stays the connection itself, and
// its prepare() stays uncached for our own code.
//
// better-sqlite3 statement modes are sticky, and drizzle turns raw mode on
// (stmt.raw()) for every execution that maps fields, but never off: a query
// without field mapping (db.all(sql`...`)) relies on the default. So raw mode
// is turned off whenever a statement is handed out; nothing else needs
// resetting, as drizzle calls neither pluck() nor expand(). A query prepared
// and kept (health-store.ts) shares its statement with later ones too: those
// that return rows map fields, so they call raw() again before every run. A
// busy statement (mid-iterate(); drizzle never iterates) cannot run again
// until done: that call gets a fresh one.
import type Database from 'better-sqlite3';

/** Enough for every distinct query the agent runs (a few dozen) and its migrations, with room to spare. */
export const STATEMENT_CACHE_SIZE = 256;

export class StatementCache {
  /** In use order, least recently used first (a Map iterates in insertion order). */
  readonly #statements = new Map<string, Database.Statement>();

  constructor(
    private readonly client: Database.Database,
    readonly capacity = STATEMENT_CACHE_SIZE,
  ) {}

  get size(): number {
    return this.#statements.size;
  }

  prepare(source: string): Database.Statement {
    const cached = this.#statements.get(source);
    if (cached === undefined) return this.#add(source);
    if (cached.busy) return this.client.prepare(source);
    this.#statements.delete(source);
    this.#statements.set(source, cached);
    // raw() throws on a statement that returns no data (an insert without returning, DDL).
    if (cached.reader) cached.raw(false);
    return cached;
  }

  #add(source: string): Database.Statement {
    const statement = this.client.prepare(source);
    this.#statements.set(source, statement);
    if (this.#statements.size > this.capacity) {
      const oldest = this.#statements.keys().next();
      if (oldest.done !== true) this.#statements.delete(oldest.value);
    }
    return statement;
  }
}

const caches = new WeakMap<Database.Database, StatementCache>();

/**
 * The connection as drizzle should see it: everything of `client` (it inherits from it), but
 * prepare() answers from a statement cache. Pass it to drizzle() and set $client back to `client`.
 */
export function withStatementCache(client: Database.Database, capacity = STATEMENT_CACHE_SIZE): Database.Database {
  const cache = new StatementCache(client, capacity);
  caches.set(client, cache);
  // Database's methods reach the native connection through a property of `client`, which the view inherits.
  const view = Object.create(client) as Database.Database;
  Object.defineProperty(view, 'prepare', { value: (source: string) => cache.prepare(source) });
  return view;
}

/** The statement cache drizzle uses on `client`, if it has one (for tests). */
export function statementCacheOf(client: Database.Database): StatementCache | undefined {
  return caches.get(client);
}
