// The PostgreSQL helpers (helpers/postgres.ts) do what the lab-of-hosts tests
// rely on: each test's database is its own, teardown leaves nothing behind in
// the shared cluster, and a private cluster really stops and starts again with
// its data.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import type { Cleanup } from './helpers/cleanup.js';
import {
  labDatabase,
  NAME_PREFIX,
  POSTGRES_CLUSTER,
  POSTGRES_SERVER,
  privatePostgres,
  sharedClusterHas,
} from './helpers/postgres.js';
import { requires } from './helpers/prerequisites.js';

/** A Cleanup the test runs itself, failing on the first step that fails (scriptCleanup would only log it). */
function ownCleanup(): Cleanup & { run: () => Promise<void> } {
  const steps: (() => unknown)[] = [];
  return {
    after: (fn) => steps.push(fn),
    run: async () => {
      for (let step = steps.pop(); step !== undefined; step = steps.pop()) await step();
    },
  };
}

/**
 * Connects as an agent would: the URL from the config, the password from database_file. The URL's parts
 * are passed one by one because pg lets a connectionString's (absent) password override a `password` option.
 */
async function connectAsAgent(url: string, passwordFile: string): Promise<pg.Client> {
  const { hostname, port, username, pathname } = new URL(url);
  const client = new pg.Client({
    host: hostname,
    port: Number(port),
    user: decodeURIComponent(username),
    database: decodeURIComponent(pathname.slice(1)),
    password: readFileSync(passwordFile, 'utf8'),
    connectionTimeoutMillis: 10_000,
    query_timeout: 10_000,
  });
  client.on('error', () => undefined); // A session ended by the server shows in the next query.
  // pg keeps the socket of a failed connect open (and the test process alive) until end().
  await client.connect().catch(async (error: unknown) => {
    await client.end().catch(() => undefined);
    throw error;
  });
  return client;
}

describe('labDatabase', () => {
  it('gives each caller a database of its own, reachable from the URL and the password file', async (t) => {
    if (!requires(t, POSTGRES_CLUSTER)) return;
    const a = await labDatabase(t);
    const b = await labDatabase(t);
    assert.notEqual(a.database, b.database);
    assert.ok(a.role.startsWith(NAME_PREFIX), a.role);

    const url = new URL(a.url);
    assert.equal(url.password, '', 'the URL carries no password');
    assert.equal(url.hostname, '127.0.0.1');
    assert.equal(statSync(a.passwordFile).mode & 0o777, 0o600);
    assert.equal(readFileSync(a.passwordFile, 'utf8'), a.password);
    const client = await connectAsAgent(a.url, a.passwordFile);
    t.after(() => client.end());
    const [who] = (
      await client.query<{ user: string; db: string }>('SELECT current_user AS user, current_database() AS db')
    ).rows;
    assert.deepEqual(who, { user: a.role, db: a.database });

    await a.query('CREATE TABLE marker (n integer)');
    await a.query('INSERT INTO marker VALUES ($1)', [42]);
    assert.deepEqual(await a.query('SELECT n FROM marker'), [{ n: 42 }]);
    assert.deepEqual(await b.query(`SELECT to_regclass('marker') AS found`), [{ found: null }]);
    await assert.rejects(b.query('SELECT n FROM marker'), /relation "marker" does not exist/);
  });

  it('teardown ends the sessions and drops the database and the role', async (t) => {
    if (!requires(t, POSTGRES_CLUSTER)) return;
    const cleanup = ownCleanup();
    t.after(() => cleanup.run()); // Should the test fail before its own run: nothing then.
    const db = await labDatabase(cleanup);
    assert.deepEqual(await sharedClusterHas(db.role), { role: true, database: true });
    // A session left open, as an agent that was killed would leave it: teardown must not wait on it.
    const held = await connectAsAgent(db.url, db.passwordFile);
    t.after(() => held.end().catch(() => undefined));

    await cleanup.run();
    assert.deepEqual(await sharedClusterHas(db.role), { role: false, database: false });
    assert.equal(existsSync(db.passwordFile), false);
    await assert.rejects(held.query('SELECT 1'));
  });
});

describe('privatePostgres', () => {
  it('stop() refuses connections, start() accepts them again, and the data is still there', async (t) => {
    if (!requires(t, POSTGRES_SERVER)) return;
    const db = await privatePostgres(t);
    assert.equal(new URL(db.url).port, String(db.port));
    await db.query('CREATE TABLE kept (word text)');
    await db.query(`INSERT INTO kept VALUES ('before the stop')`);
    const open = await connectAsAgent(db.url, db.passwordFile);
    t.after(() => open.end().catch(() => undefined));

    await db.stop();
    await assert.rejects(db.query('SELECT 1'), (error: NodeJS.ErrnoException) => {
      assert.equal(error.code, 'ECONNREFUSED');
      return true;
    });
    // A fast shutdown ends open sessions rather than waiting for them.
    await assert.rejects(open.query('SELECT 1'));

    await db.start();
    assert.deepEqual(await db.query('SELECT word FROM kept'), [{ word: 'before the stop' }]);
  });

  it('teardown stops the server, leaves no postgres process and removes its directory', async (t) => {
    if (!requires(t, POSTGRES_SERVER)) return;
    const cleanup = ownCleanup();
    t.after(() => cleanup.run());
    const db = await privatePostgres(cleanup);
    const open = await connectAsAgent(db.url, db.passwordFile);
    t.after(() => open.end().catch(() => undefined));
    const postmaster = Number(readFileSync(join(db.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const [backend] = (await open.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
    assert.ok(backend !== undefined);

    await cleanup.run();
    for (const pid of [postmaster, backend.pid])
      assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `process ${pid} of the private cluster still runs`);
    assert.equal(existsSync(db.dataDir), false);
  });
});
