// The SQLite database on a real file: first start, restart, a later migration,
// pragmas, and the errors an operator sees when the state directory is wrong.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, openSync, readFileSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import Database from 'better-sqlite3';
import { DatabaseError, DATABASE_FILE, MIGRATIONS_DIR, openDatabase } from '../src/db/open-database.js';
import { coerceError, isDatabaseUnreadable } from '../src/errors.js';
import { jobs, slots, workers } from '../src/db/schema.js';
import { ensureSlotRows, readSlotStates } from '../src/slots/slot-states.js';
import { tempDir } from './helpers/temp-dir.js';

function appliedMigrations(db: ReturnType<typeof openDatabase>): number {
  return (db.$client.prepare('SELECT count(*) AS n FROM __drizzle_migrations').get() as { n: number }).n;
}

describe('database', () => {
  it('creates the state directory and schema on first start', (t) => {
    const stateDir = join(tempDir(t), 'nested', 'state');
    const db = openDatabase({ stateDir });
    t.after(() => db.$client.close());
    assert.ok(existsSync(join(stateDir, DATABASE_FILE)));
    assert.equal(db.$client.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.$client.pragma('foreign_keys', { simple: true }), 1);
    assert.equal(db.$client.pragma('busy_timeout', { simple: true }), 5000);
    const tables = db.$client
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__drizzle%' ORDER BY name",
      )
      .all();
    assert.deepEqual(
      tables.map((r) => (r as { name: string }).name),
      ['check_results', 'device_grants', 'device_health', 'events', 'jobs', 'slots', 'workers'],
    );
  });

  it('keeps slot state across a restart and does not re-run migrations', (t) => {
    const stateDir = tempDir(t);
    const first = openDatabase({ stateDir });
    ensureSlotRows(first, ['gimlet-1', 'gimlet-2']);
    first
      .update(slots)
      .set({ holdReason: 'SP probe flaky', holdSource: 'operator', holdBy: 'alice', holdAt: 1_700_000_000_000 })
      .where(eq(slots.name, 'gimlet-1'))
      .run();
    const migrationsBefore = appliedMigrations(first);
    first.$client.close();

    const second = openDatabase({ stateDir });
    t.after(() => second.$client.close());
    ensureSlotRows(second, ['gimlet-1', 'gimlet-2', 'sidecar-1']);
    const states = readSlotStates(second, ['gimlet-1', 'gimlet-2', 'sidecar-1']);
    assert.deepEqual(states.get('gimlet-1')?.hold, {
      reason: 'SP probe flaky',
      source: 'operator',
      by: 'alice',
      at: 1_700_000_000_000,
      jobId: null,
      workerId: null,
      recoverFirst: false,
    });
    assert.equal(states.get('gimlet-2')?.hold, null);
    assert.equal(states.get('sidecar-1')?.usage, 'idle');
    assert.equal(appliedMigrations(second), migrationsBefore);
  });

  it('applies a migration added later to an existing database without losing data', (t) => {
    const dir = tempDir(t);
    const migrationsDir = join(dir, 'drizzle');
    cpSync(MIGRATIONS_DIR, migrationsDir, { recursive: true });
    const stateDir = join(dir, 'state');

    const before = openDatabase({ stateDir, migrationsDir });
    ensureSlotRows(before, ['gimlet-1']);
    before.$client.close();

    // What `drizzle-kit generate` writes for a new column: an SQL file and a journal entry.
    writeFileSync(
      join(migrationsDir, '0001_slot_notes.sql'),
      "ALTER TABLE `slots` ADD `notes` text DEFAULT '' NOT NULL;",
    );
    const journalFile = join(migrationsDir, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as {
      entries: { idx: number; when: number; tag: string; version: string; breakpoints: boolean }[];
    };
    const last = journal.entries.at(-1);
    assert.ok(last);
    journal.entries.push({ ...last, idx: last.idx + 1, when: last.when + 1000, tag: '0001_slot_notes' });
    writeFileSync(journalFile, JSON.stringify(journal));

    const after = openDatabase({ stateDir, migrationsDir });
    t.after(() => after.$client.close());
    const row = after.$client.prepare("SELECT name, usage, notes FROM slots WHERE name = 'gimlet-1'").get();
    assert.deepEqual(row, { name: 'gimlet-1', usage: 'idle', notes: '' });
    assert.equal(appliedMigrations(after), journal.entries.length);
  });

  it('enforces foreign keys', (t) => {
    const db = openDatabase({ stateDir: tempDir(t) });
    t.after(() => db.$client.close());
    assert.throws(
      () =>
        db
          .insert(workers)
          .values({
            id: 'w1',
            jobId: 'missing',
            slot: 's',
            username: 'ls-w1',
            uid: 1 << 20,
            gid: 1 << 20,
            tokenHash: 'x',
            rootDir: '/x',
          })
          .run(),
      /FOREIGN KEY/,
    );
    db.insert(jobs)
      .values({ id: 'j1', target: 'gimlet', argv: ['true'], timeoutMs: 1000 })
      .run();
    db.insert(workers)
      .values({
        id: 'w1',
        jobId: 'j1',
        slot: 's',
        username: 'ls-w1',
        uid: 1 << 20,
        gid: 1 << 20,
        tokenHash: 'x',
        rootDir: '/x',
      })
      .run();
  });

  it('explains a state directory that cannot hold a database', (t) => {
    const dir = tempDir(t);
    const notADir = join(dir, 'file');
    writeFileSync(notADir, 'x');
    assert.throws(
      () => openDatabase({ stateDir: notADir }),
      (e: unknown) => e instanceof DatabaseError && e.message.includes(notADir),
    );
    writeFileSync(join(dir, DATABASE_FILE), 'this is not sqlite, just text long enough to be read as a header........');
    assert.throws(
      () => openDatabase({ stateDir: dir }),
      (e: unknown) => e instanceof DatabaseError && /not a database/.test(e.message),
    );
  });

  it('refuses an empty database file instead of taking it for a new one, and leaves it as it was', (t) => {
    const dir = tempDir(t);
    const file = join(dir, DATABASE_FILE);
    writeFileSync(file, '');
    assert.throws(
      () => openDatabase({ stateDir: dir }),
      (e: unknown) =>
        e instanceof DatabaseError &&
        e.message.includes(file) &&
        /is empty \(0 bytes\)/.test(e.message) &&
        e.message.includes(`mv ${file} ${file}.empty`),
    );
    assert.equal(statSync(file).size, 0, 'not turned into a new database');
  });

  it('refuses a database with a damaged page at start, names the file and how to recover, and never writes to it', (t) => {
    const dir = tempDir(t);
    const db = openDatabase({ stateDir: dir });
    // Enough rows for an index and a table over many pages, then a checkpoint so they are in the file itself.
    const insert = db.$client.prepare('INSERT INTO jobs (id, target, argv, timeout_ms) VALUES (?, ?, ?, ?)');
    db.$client.transaction(() => {
      for (let i = 0; i < 2000; i += 1) insert.run(`j${i}`, 'gimlet', JSON.stringify(['echo', 'x'.repeat(200)]), 1000);
    })();
    db.$client.pragma('wal_checkpoint(TRUNCATE)');
    db.$client.close();
    const file = join(dir, DATABASE_FILE);
    const pageSize = 4096;
    const pages = statSync(file).size / pageSize;
    assert.ok(pages > 20, `${pages} pages`);
    // Garbage over the middle of an interior page: the header (page 1) is intact, so the file still opens.
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(2048, 0xa5), 0, 2048, Math.floor(pages / 2) * pageSize + 512);
    closeSync(fd);
    const digest = (): string => createHash('sha256').update(readFileSync(file)).digest('hex');
    const before = digest();
    assert.throws(
      () => openDatabase({ stateDir: dir }),
      (e: unknown) =>
        e instanceof DatabaseError &&
        e.message.includes(`the database ${file} is damaged`) &&
        e.message.includes('.recover'),
    );
    assert.equal(digest(), before, 'the damaged file is left exactly as it was');

    // What a damaged page does at run time (a file damaged after the start): SQLite's own error, which the
    // API answers with 503 database_unreadable, not 500. Read here from the real file, bypassing the check.
    const raw = new Database(file, { readonly: true });
    let thrown: unknown;
    try {
      raw.prepare('SELECT count(*), max(length(argv)) FROM jobs').get();
      raw.prepare('PRAGMA integrity_check').all();
      raw.prepare("SELECT * FROM jobs WHERE id LIKE 'j1%' ORDER BY argv").all();
    } catch (error) {
      thrown = error;
    } finally {
      raw.close();
    }
    assert.ok(thrown !== undefined, 'reading the damaged table fails');
    assert.equal(isDatabaseUnreadable(thrown), true, coerceError(thrown).message);
    assert.equal(
      isDatabaseUnreadable(new Error('wrapped', { cause: thrown })),
      true,
      'also as the cause of another error',
    );
    assert.equal(isDatabaseUnreadable(new Error('SQLITE_BUSY')), false);
  });
});
