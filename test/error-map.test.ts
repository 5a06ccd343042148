// The one error map (src/http/error-map.ts) through the real app without a
// socket: each class a route lets propagate answers its status and JSON error,
// an unknown error stays a 500 with a log line, and every error class in src/
// is either in the table or listed below with the reason it never reaches a route.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { API_ERRORS, exitCodeForRefusal } from '../src/api/error-codes.js';
import { EXIT_BY_ERROR_NAME } from '../src/cli/error-exit.js';
import { ERROR_TABLE, errorAnswer } from '../src/http/error-map.js';
import { JobRefusedError, UnknownTargetError } from '../src/jobs/job-queue.js';
import { PROJECT_ROOT } from './helpers/cli.js';
import { OPERATOR_TOKEN, request, SUBMITTER_TOKEN, testApp } from './helpers/test-app.js';

describe('error map, through app.request()', () => {
  it('answers a job id nobody knows with 404 job_not_found (JobNotFoundError), on every job route', async (t) => {
    const { app } = testApp(t);
    for (const [method, path] of [
      ['GET', '/v1/jobs/jnope'],
      ['POST', '/v1/jobs/jnope/cancel'],
      ['GET', '/v1/jobs/jnope/output'],
    ] as const) {
      const answer = await request(app, method, path, { token: SUBMITTER_TOKEN });
      assert.deepEqual(
        answer,
        { status: 404, json: { error: { code: 'job_not_found', message: 'no job jnope' } } },
        `${method} ${path}`,
      );
    }
  });

  it('answers a body that is not JSON with 400 invalid_json', async (t) => {
    const { app } = testApp(t);
    const answer = await request(app, 'POST', '/v1/slots/gimlet-1/hold', {
      token: OPERATOR_TOKEN,
      body: '{"reason": ',
    });
    assert.deepEqual(answer, {
      status: 400,
      json: { error: { code: 'invalid_json', message: 'the request body is not valid JSON' } },
    });
  });

  it('answers a hold on a held slot with 409 slot_held and the current hold (SlotHeldError); a release of a free slot with 409 not_held', async (t) => {
    const { app } = testApp(t);
    const first = await request(app, 'POST', '/v1/slots/gimlet-1/hold', {
      token: OPERATOR_TOKEN,
      body: JSON.stringify({ reason: 'reflashing RoT', by: 'alice@lab-1' }),
    });
    assert.equal(first.status, 200, JSON.stringify(first.json));
    const second = await request(app, 'POST', '/v1/slots/gimlet-1/hold', {
      token: OPERATOR_TOKEN,
      body: JSON.stringify({ reason: 'another reason' }),
    });
    assert.equal(second.status, 409);
    const error = (
      second.json as { error: { code: string; message: string; hold: { reason: string; source: string; by: string } } }
    ).error;
    assert.equal(error.code, 'slot_held');
    assert.match(
      error.message,
      /^slot gimlet-1 is already held by operator alice@lab-1 \(operator:61112491\) since \S+: reflashing RoT; send "replace": true to replace it$/,
    );
    assert.deepEqual(
      { reason: error.hold.reason, source: error.hold.source, by: error.hold.by },
      { reason: 'reflashing RoT', source: 'operator', by: 'alice@lab-1 (operator:61112491)' },
    );

    const release = await request(app, 'POST', '/v1/slots/gimlet-2/release', { token: OPERATOR_TOKEN, body: '{}' });
    assert.equal(release.status, 409);
    assert.equal((release.json as { error: { code: string } }).error.code, 'not_held');
  });

  it('answers a target no slot serves with 400 unknown_target (UnknownTargetError)', async (t) => {
    const { app } = testApp(t);
    const answer = await request(app, 'POST', '/v1/jobs', {
      token: SUBMITTER_TOKEN,
      body: JSON.stringify({ target: 'nosuch', argv: ['true'] }),
    });
    assert.equal(answer.status, 400, JSON.stringify(answer.json));
    const error = (answer.json as { error: { code: string; message: string } }).error;
    assert.equal(error.code, 'unknown_target');
    assert.match(error.message, /^no slot serves target "nosuch" on /);
  });

  it('keeps an unknown error a 500 with the same body, and logs it', async (t) => {
    const { app, db, logs } = testApp(t);
    // A closed connection: every query throws a TypeError no table knows.
    db.$client.close();
    const answer = await request(app, 'GET', '/v1/slots');
    assert.deepEqual(answer, {
      status: 500,
      json: { error: { code: 'internal', message: 'internal error; the agent log has the details' } },
    });
    const line = logs.find((l) => l['msg'] === 'request failed');
    assert.ok(line, JSON.stringify(logs));
    assert.deepEqual([line['level'], line['method'], line['path']], ['error', 'GET', '/v1/slots']);
  });
});

describe('error map, the table', () => {
  it('answers library errors in the words routes used to translate them to', () => {
    assert.deepEqual(errorAnswer(new JobRefusedError('timeout', 'is over the host limit of 1h')), {
      status: 400,
      code: 'invalid_request',
      message: 'timeout: is over the host limit of 1h',
    });
    assert.deepEqual(errorAnswer(new UnknownTargetError('no slot serves target "x"')), {
      status: 400,
      code: 'unknown_target',
      message: 'no slot serves target "x"',
    });
    const full = errorAnswer(
      new Error('write failed', { cause: Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }) }),
    );
    assert.deepEqual(
      [full.status, full.code, full.log],
      [507, 'disk_full', 'request failed: the state directory is full'],
    );
  });

  it('gives every code its status and the exit code README.md\'s table says: 2 for what the command line named wrong, 1 for a "no"', () => {
    for (const [code, { status, exit }] of Object.entries(API_ERRORS)) {
      assert.equal(
        exit,
        status === 400 || code === 'slot_not_found' || code === 'power_device_not_found' ? 2 : 1,
        code,
      );
      assert.equal(exitCodeForRefusal(status, code), exit, code);
    }
    // A code from a newer agent goes by its status.
    assert.deepEqual([exitCodeForRefusal(400, 'new_code'), exitCodeForRefusal(409, 'new_code')], [2, 1]);
  });
});

/**
 * Error classes that never reach a route, so the map leaves them out (a 500 if
 * one ever did: that would be a bug to fix here, with a row in the table).
 */
const NEVER_REACH_A_ROUTE: Readonly<Record<string, string>> = {
  // The CLI's own (the client side): the agent never throws them.
  CliError: 'the CLI reports it as one line and an exit code (src/cli/main.ts)',
  AgentError: 'the CLI: a failed exchange with the agent',
  ExchangeFailure: 'the CLI: a request that got no or half an answer',
  DemoError: 'the demo command, before and around the agent',
  LabPartError: 'the emulated lab (demo and tests)',
  // Start-up: the agent refuses to start, before it serves anything.
  ConfigError: 'loading the config: at start and in the CLI; routes read the loaded model',
  DatabaseError: 'opening the database at start',
  ListenError: 'binding the listener at start',
  TlsFileError: "reading [agent] tls and [lab] ca at start, and the CLI's --cacert",
  StateDirLockedError: 'locking the state directory at start',
  LabDatabaseError: "reading [lab] database_file at the agent's start (a lab link never throws it in a request)",
  LabMembershipError: 'joining a lab at start (a slot or host name another host has), or a heartbeat: logged there',
  ClaimRolledBack: "ends a lab claim's transaction inside lab/lab-claims.ts; never leaves it",
  LandlockProbeError: "asking the kernel's Landlock ABI at start",
  NetworkPolicyUnavailableError:
    '[jobs] network = "slot" on a host that cannot filter: found at start, it keeps the host unhealthy',
  IllegalStateError: 'lifecycle misuse (start twice, launch after stop): a bug, rightly a 500 anywhere',
  // Leases run in the scheduler, not in a request; their failures end the job and are logged.
  WorkerSetupError: 'worker setup, in a lease run',
  CleanupError: 'worker cleanup, in a lease run',
  // Slot usage moves: only the scheduler, lease runs and the reconciler move a slot (src/jobs/lease-records.ts).
  SlotTransitionError: 'a slot move not in the table: a bug in a lease run or the reconciler, never in a request',
  SlotUsageMismatchError:
    'a slot not in the state a lease run or the reconciler expected: logged there, never in a request',
  PowerControlError: 'a driver failure: slots/slot-power.ts reports it as a PowerSwitchError naming the outlet',
  // Platform operations under worker setup and cleanup (same reason).
  UserCommandError: 'useradd/userdel in worker setup and cleanup',
  WorkerDiskError: "a job's disk in worker setup and cleanup",
  NetworkPolicyError: "a worker's nftables rules, in worker setup and cleanup",
  OutputRelayError: "relaying a job's output, in a lease run",
  OutputPipeError: "illumos: a job's output pipe, in a lease run",
  LaunchError: 'illumos: starting a job, in a lease run',
  IllumosPlatformError: 'illumos: worker setup and cleanup',
  IllumosToolError: 'illumos: a system tool, in worker setup and cleanup',
  LimitValueError: "illumos: a job's resource controls, in worker setup",
  WorkerIdError: 'illumos: a worker id in a service manifest, in worker setup',
  XmlValueError: 'illumos: a value in a service manifest, in worker setup',
};

/** `class X extends Y` in src/, where Y is Error or (transitively) another such class. */
function errorClassesInSrc(): string[] {
  const sources: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.tsx?$/.test(entry.name)) sources.push(readFileSync(path, 'utf8'));
    }
  };
  walk(join(PROJECT_ROOT, 'src'));
  const extensions = sources.flatMap((text) =>
    [...text.matchAll(/\bclass\s+(\w+)\s+extends\s+(\w+)/g)].map((m) => ({ name: m[1] ?? '', base: m[2] ?? '' })),
  );
  const errors = new Set(['Error']);
  for (let grew = true; grew;) {
    grew = false;
    for (const { name, base } of extensions) {
      if (errors.has(base) && !errors.has(name)) {
        errors.add(name);
        grew = true;
      }
    }
  }
  errors.delete('Error');
  return [...errors].sort();
}

describe('error classes', () => {
  it('are each in the error map or listed with the reason they never reach a route', () => {
    const mapped = new Set(ERROR_TABLE.map((m) => m.class.name));
    const found = errorClassesInSrc();
    assert.ok(
      found.length > 20 && found.includes('JobNotFoundError'),
      `the scan found too little: ${found.join(', ')}`,
    );
    const neither = found.filter((name) => !mapped.has(name) && !(name in NEVER_REACH_A_ROUTE));
    assert.deepEqual(
      neither,
      [],
      'add these to ERROR_TABLE in src/http/error-map.ts, or to NEVER_REACH_A_ROUTE here with the reason',
    );
    const both = found.filter((name) => mapped.has(name) && name in NEVER_REACH_A_ROUTE);
    assert.deepEqual(both, [], 'in the table and in the list of those that never reach a route');
    const stale = Object.keys(NEVER_REACH_A_ROUTE).filter((name) => !found.includes(name));
    assert.deepEqual(stale, [], 'listed here but no longer in src/');
  });

  it('that the CLI tells by name (src/cli/error-exit.ts) are classes in src/', () => {
    const found = errorClassesInSrc();
    assert.deepEqual(
      Object.keys(EXIT_BY_ERROR_NAME).filter((name) => !found.includes(name)),
      [],
    );
  });
});
