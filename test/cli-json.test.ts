// `--json` on every command that reads or changes something (issue 11 item
// 7): each prints the agent's answer, exactly, on stdout; and `job list`
// shows EXIT only for a job's own exit. Against a stand-in of the agent's API,
// so the client's own behaviour is what is tested.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from './helpers/cli.js';
import { jobJson, sendError, sendJson, startFakeAgent } from './helpers/fake-job-agent.js';
import { NOT_IN_A_JOB } from './helpers/job-cli.js';
import { tempDir } from './helpers/temp-dir.js';

/** The commands that print an answer; `agent`, `demo`, `udev-rules`, `job run` and `job logs` print none to put in JSON. */
const ANSWERING = [
  ['slots'],
  ['slot', 'hold'],
  ['slot', 'release'],
  ['job', 'submit'],
  ['job', 'status'],
  ['job', 'outputs'],
  ['job', 'cancel'],
  ['job', 'list'],
  ['worker', 'mark-broken'],
  ['worker', 'power'],
  ['power'],
  ['check'],
  ['config', 'validate'],
  ['discover'],
];

const hold = {
  reason: 'reseating',
  source: 'operator',
  by: 'alice@lab-1 (operator:1a2b3c4d)',
  at: '2026-11-25T02:40:00.000Z',
  job_id: null,
  worker_id: null,
};
const ANSWERS: Record<string, unknown> = {
  'GET /v1/slots': { host: { ok: true, reason: 'ok' }, slots: [] },
  'POST /v1/slots/gimlet-1/hold': { slot: 'gimlet-1', hold, replaced: null },
  'POST /v1/slots/gimlet-1/release': { slot: 'gimlet-1', released: true, healthy: false },
  'POST /v1/jobs': { id: 'j0001', job: jobJson({ id: 'j0001' }) },
  'GET /v1/jobs/j0001': jobJson({ id: 'j0001' }),
  'POST /v1/jobs/j0001/cancel': { id: 'j0001', state: 'cancelled' },
  'GET /v1/jobs': { jobs: [jobJson({ id: 'j0001' })] },
  'POST /v1/worker/mark-broken': {
    slot: 'gimlet-1',
    job_id: 'j0001',
    worker_id: 'w0001',
    hold: { ...hold, source: 'job', by: 'job j0001' },
    outcome: 'held',
  },
  'POST /v1/worker/power': {
    slot: 'gimlet-1',
    action: 'cycle',
    devices: ['gimlet-1-power'],
    job_id: 'j0001',
    worker_id: 'w0001',
  },
  'POST /v1/slots/gimlet-1/power': { slot: 'gimlet-1', action: 'off', devices: ['gimlet-1-power'] },
};

describe('--json', () => {
  it('every command that answers something takes it', async () => {
    const helps = await Promise.all(ANSWERING.map((command) => runCli([...command, '--help'], { env: NOT_IN_A_JOB })));
    for (const [index, command] of ANSWERING.entries()) {
      assert.match(helps[index]?.stdout ?? '', /^\s+--json\s/m, `labslot ${command.join(' ')} --help`);
    }
  });

  it("prints the agent's answer, exactly, on stdout", async (t) => {
    const agent = await startFakeAgent(t, (r, res) => {
      const answer = ANSWERS[`${r.method} ${r.path}`];
      if (answer === undefined) return sendError(res, 404, 'not_found', `no route ${r.method} ${r.path}`);
      sendJson(res, r.method === 'POST' && r.path === '/v1/jobs' ? 201 : 200, answer);
    });
    const env = { ...NOT_IN_A_JOB, LABSLOT_URL: agent.url, LABSLOT_TOKEN: 'token' };
    const inJob = { ...env, LABSLOT_WORKER: 'w0001', LABSLOT_SLOT: 'gimlet-1', LABSLOT_JOB: 'j0001' };
    const cases: [string[], NodeJS.ProcessEnv, unknown][] = [
      [['slots', '--json'], env, []],
      [['slot', 'hold', 'gimlet-1', '-m', 'reseating', '--json'], env, ANSWERS['POST /v1/slots/gimlet-1/hold']],
      [['slot', 'release', 'gimlet-1', '--json'], env, ANSWERS['POST /v1/slots/gimlet-1/release']],
      [['job', 'submit', '--target', 'gimlet', '--json', '--', 'make', 'test'], env, ANSWERS['POST /v1/jobs']],
      [['job', 'status', 'j0001', '--json'], env, ANSWERS['GET /v1/jobs/j0001']],
      [['job', 'cancel', 'j0001', '--json'], env, ANSWERS['POST /v1/jobs/j0001/cancel']],
      [['job', 'list', '--json'], env, (ANSWERS['GET /v1/jobs'] as { jobs: unknown[] }).jobs],
      [['worker', 'mark-broken', '-m', 'reseating', '--json'], inJob, ANSWERS['POST /v1/worker/mark-broken']],
      [['worker', 'power', 'cycle', '--json'], inJob, ANSWERS['POST /v1/worker/power']],
      [['power', 'off', 'gimlet-1', '--json'], env, ANSWERS['POST /v1/slots/gimlet-1/power']],
    ];
    for (const [args, caseEnv, expected] of cases) {
      const result = await runCli(args, { env: caseEnv });
      assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
      assert.deepEqual(JSON.parse(result.stdout), expected, args.join(' '));
    }
  });

  it('config validate --json summarizes the config', async (t) => {
    const dir = tempDir(t);
    const config = join(dir, 'slots.toml');
    writeFileSync(
      config,
      '[devices.a]\nkind = "command"\nargv = ["true"]\n[devices.spare]\nkind = "command"\nargv = ["true"]\n[slots.s1]\ntarget = "tb"\ndevices = ["a"]\n[slots.s2]\ntarget = "tb"\ndevices = ["a"]\n',
    );
    const result = await runCli(['config', 'validate', '-c', config, '--json'], { env: NOT_IN_A_JOB });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), {
      file: config,
      ok: true,
      slots: 2,
      devices: 2,
      shared_devices: 1,
      targets: { tb: 2 },
      unused_devices: ['spare'],
    });
  });
});

describe('job list EXIT column', () => {
  it('shows the exit code only when the job ended by its own exit, a signal by its name, and "-" otherwise', async (t) => {
    const ended = { done: true, slot: 'gimlet-1' };
    const jobs = [
      jobJson({ id: 'j-exit', state: 'failed', exit_code: 3, ended_by: 'exit', end_reason: 'exit code 3', ...ended }),
      jobJson({ id: 'j-ok', state: 'succeeded', exit_code: 0, ended_by: 'exit', end_reason: 'exit code 0', ...ended }),
      jobJson({
        id: 'j-signal',
        state: 'failed',
        exit_code: null,
        signal: 'SIGKILL',
        ended_by: 'signal',
        end_reason: 'killed by SIGKILL',
        ...ended,
      }),
      jobJson({
        id: 'j-cancel',
        state: 'cancelled',
        exit_code: 143,
        signal: null,
        ended_by: 'cancel',
        end_reason: 'cancelled by operator:61112491',
        ...ended,
      }),
      jobJson({
        id: 'j-timeout',
        state: 'failed',
        exit_code: 143,
        ended_by: 'timeout',
        end_reason: 'timed out after 10s',
        ...ended,
      }),
      jobJson({
        id: 'j-broken',
        state: 'failed',
        exit_code: 0,
        ended_by: 'infrastructure',
        infrastructure: true,
        end_reason: 'marked broken: probe gone',
        ...ended,
      }),
      jobJson({ id: 'j-running', state: 'running', slot: 'gimlet-1' }),
    ];
    const agent = await startFakeAgent(t, (_r, res) => sendJson(res, 200, { jobs }));
    const result = await runCli(['job', 'list'], { env: { ...NOT_IN_A_JOB, LABSLOT_URL: agent.url } });
    assert.equal(result.code, 0, result.stderr);
    const exitColumn = new Map(
      result.stdout
        .split('\n')
        .slice(1)
        .filter((line) => line !== '')
        .map((line) => {
          const [id, , , , exit] = line.split(/\s+/);
          return [id, exit];
        }),
    );
    assert.deepEqual(Object.fromEntries(exitColumn), {
      'j-exit': '3',
      'j-ok': '0',
      'j-signal': 'SIGKILL',
      'j-cancel': '-',
      'j-timeout': '-',
      'j-broken': '-',
      'j-running': '-',
    });
  });
});
