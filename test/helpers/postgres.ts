// Real PostgreSQL for the lab-of-hosts tests (DESIGN §6, §7). labDatabase()
// gives a test its own role and database in the machine's default cluster
// (scripts/install-test-packages.sh starts it); privatePostgres() gives it a
// whole cluster of its own, for tests that stop the database: stopping the
// shared one would break every other test file running meanwhile.
//
// Superuser work is psql run as the postgres user over the cluster's unix
// socket (peer authentication): the test process is root, which peer
// authentication does not map to postgres, and there is no superuser password
// to keep anywhere. What the test itself asks goes over TCP as the test's role
// with its password, as an agent's connections do.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  chownSync,
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { lookupUser } from '../../src/platform/lookup-user.js';
import { lifo, type Cleanup } from './cleanup.js';
import { eventually, GiveUp } from './eventually.js';
import { freePort } from './free-port.js';
import type { Prerequisite } from './prerequisites.js';

/** Every role and database a test makes is named so: recognisable, and unique across test files and runs. */
export const NAME_PREFIX = 'labslot_test_';

/** Debian's default socket directory (unix_socket_directories in /etc/postgresql/<ver>/<cluster>/postgresql.conf). */
const DEBIAN_SOCKET_DIR = '/var/run/postgresql';

/** A cluster as the superuser reaches it. */
interface Cluster {
  /** /usr/lib/postgresql/<version>/bin: the binaries of the cluster's own version. */
  bin: string;
  port: number;
  socketDir: string;
}

export interface LabDatabase {
  /** postgres://<role>@127.0.0.1:<port>/<database>, without the password (as [lab] database wants it). */
  url: string;
  role: string;
  database: string;
  password: string;
  /** A file (mode 0600) holding only the password, as [lab] database_file wants it. */
  passwordFile: string;
  /** One statement as the role, on a connection of its own (so a stopped server fails it, and nothing stays open). */
  query: <R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<R[]>;
}

export interface PrivatePostgres extends LabDatabase {
  port: number;
  dataDir: string;
  /** Fast shutdown (clients are disconnected); resolves once the server has exited. */
  stop: () => Promise<void>;
  /** Starts the server again on the same port; resolves once it accepts connections. */
  start: () => Promise<void>;
}

/** What `pg_lsclusters` says about the cluster install-test-packages.sh keeps running. */
interface ClusterLine {
  version: string;
  name: string;
  port: number;
  status: string;
}

/**
 * The default cluster, chosen as install-test-packages.sh chooses it: `main`
 * of the newest version that has one, else the newest cluster of any name.
 */
function defaultClusterLine(): ClusterLine | undefined {
  const listed = spawnSync('pg_lsclusters', ['--no-header'], { encoding: 'utf8', timeout: 10_000 });
  if (listed.status !== 0) return undefined;
  const lines = listed.stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= 4)
    .map(([version = '', name = '', port = '', status = '']) => ({ version, name, port: Number(port), status }))
    .sort((a, b) => Number(a.version) - Number(b.version));
  return lines.filter((line) => line.name === 'main').at(-1) ?? lines.at(-1);
}

function sharedCluster(): Cluster {
  const line = defaultClusterLine();
  if (line === undefined)
    throw new Error('no PostgreSQL cluster (pg_lsclusters); scripts/install-test-packages.sh makes one');
  if (!line.status.startsWith('online'))
    throw new Error(
      `PostgreSQL cluster ${line.version}/${line.name} is ${line.status}; scripts/install-test-packages.sh starts it`,
    );
  return { bin: `/usr/lib/postgresql/${line.version}/bin`, port: line.port, socketDir: DEBIAN_SOCKET_DIR };
}

/** The newest PostgreSQL server installed (for a private cluster), or undefined. */
function newestServerBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter(
      (version) =>
        existsSync(join(root, version, 'bin', 'initdb')) && existsSync(join(root, version, 'bin', 'postgres')),
    )
    .sort((a, b) => Number(a) - Number(b));
  const newest = versions.at(-1);
  return newest === undefined ? undefined : join(root, newest, 'bin');
}

const isRoot = (): boolean => process.getuid?.() === 0;

/** The default cluster runs and its superuser answers (labDatabase). */
export const POSTGRES_CLUSTER: Prerequisite = {
  what: 'root and a running PostgreSQL cluster (Debian postgresql; scripts/install-test-packages.sh starts it)',
  met: () => {
    if (!isRoot()) return false;
    let cluster: Cluster;
    try {
      cluster = sharedCluster();
    } catch {
      return false;
    }
    const probe = spawnSync('setpriv', asPostgres([...psqlArgs(cluster), '-c', 'SELECT 1']), {
      cwd: '/',
      stdio: 'ignore',
      timeout: 10_000,
    });
    return probe.status === 0;
  },
};

/** A PostgreSQL server to run a private cluster with (privatePostgres). */
export const POSTGRES_SERVER: Prerequisite = {
  what: 'root and a PostgreSQL server (Debian postgresql: /usr/lib/postgresql/<version>/bin/initdb)',
  met: () =>
    isRoot() && newestServerBin() !== undefined && spawnSync('id', ['postgres'], { stdio: 'ignore' }).status === 0,
};

/** setpriv's arguments to run `argv` as postgres; setpriv execs it, so a kill reaches the program itself. */
function asPostgres(argv: readonly string[], pdeathsig?: NodeJS.Signals): string[] {
  const death = pdeathsig === undefined ? [] : ['--pdeathsig', pdeathsig.replace(/^SIG/, '')];
  return ['--reuid=postgres', '--regid=postgres', '--init-groups', ...death, '--', ...argv];
}

function psqlArgs(cluster: Cluster): string[] {
  // -X: no ~/.psqlrc; -At: bare rows, one per line; ON_ERROR_STOP: the first failing statement fails the run.
  return [
    join(cluster.bin, 'psql'),
    '-X',
    '-q',
    '-At',
    '-v',
    'ON_ERROR_STOP=1',
    '-h',
    cluster.socketDir,
    '-p',
    String(cluster.port),
    '-U',
    'postgres',
    '-d',
    'postgres',
  ];
}

/**
 * Runs SQL as the superuser; `vars` are psql variables, quoted by psql itself
 * (`:'name'` a literal, `:"name"` an identifier), which is why the SQL goes in
 * on stdin: psql does not interpolate variables in `-c`. Resolves with stdout.
 */
async function superuserSql(
  cluster: Cluster,
  sql: string,
  vars: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<string> {
  const varArgs = Object.entries(vars).flatMap(([name, value]) => ['-v', `${name}=${value}`]);
  const child = spawn('setpriv', asPostgres([...psqlArgs(cluster), ...varArgs, '-f', '-']), {
    // The postgres user may not be allowed into the test's working directory.
    cwd: '/',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
      child.stdin.end(sql);
    });
    if (code !== 0)
      throw new Error(
        `psql as postgres (port ${cluster.port}) exited with ${code ?? 'a signal (timeout?)'}: ${stderr.trim()}\nSQL: ${sql.trim()}`,
      );
    return stdout;
  } finally {
    clearTimeout(timer);
  }
}

/** SQL as the superuser of the default cluster, for assertions from that side (what exists, who is connected). */
export async function sharedClusterSql(sql: string, vars: Record<string, string> = {}): Promise<string> {
  return superuserSql(sharedCluster(), sql, vars);
}

function uniqueName(): string {
  // Identifiers are at most 63 bytes; this is about 30.
  return `${NAME_PREFIX}${process.pid}_${randomBytes(5).toString('hex')}`;
}

/** A directory removed at teardown (after whatever was registered later, as tempDir() does it). */
function cleanedDir(t: Cleanup, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  lifo(t).after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Ends the sessions of the role and of the database, then drops both; either may be missing. */
async function dropDatabase(cluster: Cluster, name: string): Promise<void> {
  // WITH (FORCE) would end the database's sessions by itself; the role's sessions elsewhere (the postgres
  // database) would hold nothing up, but are ended too, so nothing of the test lingers.
  await superuserSql(
    cluster,
    `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
       WHERE (datname = :'name' OR usename = :'name') AND pid <> pg_backend_pid();
     DROP DATABASE IF EXISTS :"name" WITH (FORCE);
     DROP ROLE IF EXISTS :"name";`,
    { name },
  );
}

const LEFTOVER = new RegExp(`^${NAME_PREFIX}(\\d+)_[0-9a-f]{10}$`);
let swept: Promise<void> | undefined;

/**
 * Drops what test processes that are gone left in the shared cluster (a file
 * killed at its timeout runs no teardown): names carry the creator's pid, and
 * one whose process no longer exists is nobody's. A live pid is left alone,
 * even if it is another program by now. Once per test process; a failure here
 * (another file sweeping the same name) is not the test's.
 */
function sweepLeftovers(cluster: Cluster): Promise<void> {
  swept ??= (async () => {
    const names = await superuserSql(
      cluster,
      `SELECT datname FROM pg_database WHERE datname LIKE :'pattern'
       UNION SELECT rolname FROM pg_roles WHERE rolname LIKE :'pattern';`,
      { pattern: `${NAME_PREFIX}%` },
    );
    for (const name of names.split('\n')) {
      const pid = LEFTOVER.exec(name)?.[1];
      if (pid !== undefined && !processExists(Number(pid))) await dropDatabase(cluster, name);
    }
  })().catch((error: unknown) => console.error('labDatabase: sweeping leftovers failed:', error));
  return swept;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A role and a database owned by it in `cluster`. With `dropAtEnd`, teardown
 * ends the role's and the database's sessions and drops both (registered
 * before they are made, so a half-made pair is dropped too).
 */
async function createDatabase(
  t: Cleanup,
  cluster: Cluster,
  { dropAtEnd }: { dropAtEnd: boolean },
): Promise<LabDatabase> {
  const name = uniqueName();
  const password = randomBytes(18).toString('base64url');
  const passwordFile = join(cleanedDir(t, 'labslot-pg-password-'), 'password');
  // No newline: the file holds the password and nothing else.
  writeFileSync(passwordFile, password, { mode: 0o600 });
  if (dropAtEnd) lifo(t).after(() => dropDatabase(cluster, name));
  await superuserSql(
    cluster,
    `CREATE ROLE :"name" LOGIN PASSWORD :'password';\nCREATE DATABASE :"name" OWNER :"name";`,
    {
      name,
      password,
    },
  );
  const query = async <R extends Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]> => {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: cluster.port,
      user: name,
      password,
      database: name,
      connectionTimeoutMillis: 10_000,
      query_timeout: 30_000,
    });
    // A connection the server ends (a stop, a terminated backend) is reported through the query; unheard,
    // the 'error' event would end the test process instead.
    client.on('error', () => undefined);
    try {
      await client.connect();
      return (await client.query<R>(sql, params)).rows;
    } finally {
      // Also after a failed connect: pg keeps that socket open (and the test process alive) until end().
      await client.end().catch(() => undefined);
    }
  };
  return {
    url: `postgres://${name}@127.0.0.1:${cluster.port}/${name}`,
    role: name,
    database: name,
    password,
    passwordFile,
    query,
  };
}

/** A role and a database of the test's own in the default cluster, dropped at teardown. Check POSTGRES_CLUSTER first. */
export async function labDatabase(t: Cleanup): Promise<LabDatabase> {
  const cluster = sharedCluster();
  await sweepLeftovers(cluster);
  return createDatabase(t, cluster, { dropAtEnd: true });
}

/** Whether the default cluster has a role and a database of this name (a teardown drops both). */
export async function sharedClusterHas(name: string): Promise<{ role: boolean; database: boolean }> {
  const [role, database] = (
    await sharedClusterSql(
      `SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name'), EXISTS (SELECT FROM pg_database WHERE datname = :'name');`,
      { name },
    )
  )
    .trim()
    .split('|');
  return { role: role === 't', database: database === 't' };
}

/** The status line of postmaster.pid says "ready" once the server accepts connections (what pg_ctl -w waits for). */
function postmasterPid(dataDir: string): { pid: number; status: string } | undefined {
  let lines: string[];
  try {
    lines = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  return { pid: Number(lines[0]), status: (lines[7] ?? '').trim() };
}

/** Processes whose working directory is `dataDir`: the postmaster and every backend chdir there. */
function processesIn(dataDir: string): number[] {
  if (!existsSync(dataDir)) return [];
  const real = realpathSync(dataDir);
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/cwd`) === real) found.push(Number(entry));
    } catch {
      // Gone meanwhile, or a kernel thread.
    }
  }
  return found;
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * A throwaway cluster: initdb in a temporary directory, listening on
 * 127.0.0.1 on a free port (password authentication), its socket in that
 * directory (peer authentication, for the superuser), and a role and database
 * as labDatabase() makes them. The postmaster is this process's child, run
 * with a parent-death signal, so it cannot outlive a test process that dies;
 * teardown stops it (killing whatever remains in its data directory) and
 * removes the directory. Check POSTGRES_SERVER first.
 */
export async function privatePostgres(t: Cleanup, { timeoutMs = 30_000 } = {}): Promise<PrivatePostgres> {
  const bin = newestServerBin();
  if (bin === undefined) throw new Error('no PostgreSQL server under /usr/lib/postgresql (Debian postgresql)');
  const postgres = await lookupUser('postgres');
  if (postgres === undefined) throw new Error('no postgres user (Debian postgresql makes it)');
  const dir = cleanedDir(t, 'labslot-pg-');
  chownSync(dir, postgres.uid, postgres.gid);
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');

  const initdb = spawnSync(
    'setpriv',
    asPostgres([
      join(bin, 'initdb'),
      '-D',
      dataDir,
      '-U',
      'postgres',
      '--auth-local=peer',
      '--auth-host=scram-sha-256',
      '--encoding=UTF8',
      '--locale=C',
      // A throwaway cluster: nothing in it must survive a crash of the machine.
      '--no-sync',
      '--no-instructions',
    ]),
    { cwd: dir, encoding: 'utf8', timeout: 60_000 },
  );
  if (initdb.status !== 0)
    throw new Error(`initdb failed (${initdb.status ?? initdb.signal}): ${initdb.stderr}${initdb.stdout}`);
  const port = await freePort();
  appendFileSync(
    join(dataDir, 'postgresql.conf'),
    `\n# labslot test cluster\nlisten_addresses = '127.0.0.1'\nport = ${port}\nunix_socket_directories = '${dir}'\n`,
  );
  const cluster: Cluster = { bin, port, socketDir: dir };

  let server: { pid: number; exited: Promise<void>; running: () => boolean } | undefined;
  const running = (): boolean => server?.running() ?? false;

  const start = async (): Promise<void> => {
    if (running()) throw new Error('the private PostgreSQL is running already');
    const log = openSync(logFile, 'a');
    // INT on the death of this process: a fast shutdown, as stop() does.
    const child = spawn('setpriv', asPostgres([join(bin, 'postgres'), '-D', dataDir], 'SIGINT'), {
      cwd: dir,
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('error', () => undefined); // An exec failure ends it too; the log and the wait below say so.
    const pid = child.pid;
    if (pid === undefined) throw new Error('setpriv postgres did not start');
    server = { pid, exited, running: () => child.exitCode === null && child.signalCode === null };
    await eventually(
      () => {
        if (!running()) throw new GiveUp(`postgres exited before accepting connections:\n${tail(logFile)}`);
        const status = postmasterPid(dataDir);
        return status?.pid === pid && status.status === 'ready';
      },
      { timeoutMs, intervalMs: 50, message: () => `the private PostgreSQL to accept connections:\n${tail(logFile)}` },
    );
  };

  const stop = async (): Promise<void> => {
    if (server === undefined || !running()) return;
    const { pid, exited } = server;
    // SIGINT is PostgreSQL's fast shutdown: sessions are ended, a checkpoint is written, the postmaster exits.
    process.kill(pid, 'SIGINT');
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([
      exited.then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (!stopped) {
      killEverythingIn(dataDir);
      throw new Error(`the private PostgreSQL did not stop within ${timeoutMs} ms; killed:\n${tail(logFile)}`);
    }
  };

  lifo(t).after(async () => {
    const failures: unknown[] = [];
    await stop().catch((error: unknown) => failures.push(error));
    // A postmaster killed outright leaves backends that exit only once they notice; none may outlive the test.
    try {
      await eventually(
        () => {
          if (processesIn(dataDir).length === 0) return true;
          killEverythingIn(dataDir);
          return false;
        },
        {
          timeoutMs: 10_000,
          message: () => `no process left in ${dataDir} (left: ${processesIn(dataDir).join(', ')})`,
        },
      );
    } catch (error) {
      failures.push(error);
    }
    if (failures.length > 0) throw new AggregateError(failures, 'the private PostgreSQL did not stop cleanly');
  });

  await start();
  const database = await createDatabase(t, cluster, { dropAtEnd: false });
  return { ...database, port, dataDir, stop, start };
}

/**
 * SIGKILL to every process working in `dataDir`. The postmaster named in
 * postmaster.pid is among them while it lives (its working directory is the
 * data directory); the file's pid alone is not trusted, since a stale file's
 * pid may belong to another process by now.
 */
function killEverythingIn(dataDir: string): void {
  for (const pid of processesIn(dataDir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Exited meanwhile.
    }
  }
}
