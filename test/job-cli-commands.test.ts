// `labslot job submit|status|logs|cancel|list` against a scripted stand-in of
// the job API: what each prints, sends, and exits with.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  jobJson,
  sendError,
  sendJson,
  startFakeAgent,
  startStream,
  writeBytes,
  type Handler,
} from './helpers/fake-job-agent.js';
import { cli, OPERATOR, spawnCli, SUBMITTER } from './helpers/job-cli.js';
import { tempDir } from './helpers/temp-dir.js';

describe('job submit, status, logs, cancel, list against a stand-in of the job API', () => {
  const failedJob = jobJson({
    id: 'j0002',
    state: 'failed',
    slot: 'gimlet-1',
    worker_id: 'w0001',
    exit_code: 0,
    end_reason: 'marked broken: SP probe does not attach',
    ended_by: 'infrastructure',
    infrastructure: true,
    started_at: '2026-11-25T02:33:00.000Z',
    ended_at: '2026-11-25T02:34:10.500Z',
    output_bytes: 7,
  });
  const handler: Handler = async (r, res) => {
    if (r.method === 'POST' && r.path === '/v1/jobs')
      return sendJson(res, 201, { id: 'j0002', job: jobJson({ id: 'j0002' }) });
    if (r.method === 'GET' && r.path === '/v1/jobs')
      return sendJson(res, 200, { jobs: [jobJson({ id: 'j0003', waiting: 'gimlet: 0 free' }), failedJob] });
    if (r.path === '/v1/jobs/j0002') return sendJson(res, 200, failedJob);
    if (r.path === '/v1/jobs/j0003')
      return sendJson(res, 200, jobJson({ id: 'j0003', waiting: 'gimlet: 2 leased, 0 free', output_bytes: 1 }));
    if (r.path === '/v1/jobs/j0002/output') {
      startStream(res);
      await writeBytes(res, Buffer.from([0x6f, 0x75, 0x74, 0xff, 0x0a, 0x65, 0x6e]));
      return void res.end();
    }
    if (r.path === '/v1/jobs/j0002/cancel')
      return sendError(res, 409, 'job_done', 'job j0002 is already done (failed)');
    if (r.path === '/v1/jobs/j0003/cancel') return sendJson(res, 200, { id: 'j0003', state: 'cancelled' });
    if (r.path === '/v1/jobs/j0004/cancel') return sendJson(res, 200, { id: 'j0004', state: 'running' });
    sendError(res, 404, 'job_not_found', `no job ${r.path.split('/')[3] ?? ''}`);
  };

  it('submit prints only the id, and sends a script or an argv', async (t) => {
    const agent = await startFakeAgent(t, handler);
    const env = { LABSLOT_URL: agent.url, LABSLOT_TOKEN: SUBMITTER };
    const dir = tempDir(t);
    const script = join(dir, 'test.sh');
    writeFileSync(script, '#!/bin/sh\nhumility probe\n');
    const withScript = await cli(['job', 'submit', '--target', 'gimlet', '--script', script], env);
    assert.deepEqual([withScript.code, withScript.stdout, withScript.stderr], [0, 'j0002\n', '']);
    assert.deepEqual(agent.requests[0]?.body, { target: 'gimlet', script: '#!/bin/sh\nhumility probe\n' });
    const withArgv = await cli(
      ['job', 'submit', '--target', 'gimlet', '--env', 'X=1', '--', 'sh', '-c', 'echo "$X"'],
      env,
    );
    assert.deepEqual([withArgv.code, withArgv.stdout], [0, 'j0002\n']);
    assert.deepEqual(agent.requests[1]?.body, { target: 'gimlet', argv: ['sh', '-c', 'echo "$X"'], env: { X: '1' } });
  });

  it("without a token says so in command-line words, naming the token it needs, not in HTTP's", async (t) => {
    const agent = await startFakeAgent(t, (_r, res) =>
      sendJson(res, 401, {
        error: {
          code: 'unauthorized',
          message: 'this needs a submitter token: send "Authorization: Bearer TOKEN"',
          needs: ['submitter'],
        },
      }),
    );
    const none = await cli(['job', 'submit', '--target', 'gimlet', '--', 'true'], {
      LABSLOT_URL: agent.url,
      LABSLOT_TOKEN: '',
    });
    assert.deepEqual(
      [none.code, none.stderr],
      [1, 'labslot: no token: pass --token or set LABSLOT_TOKEN to a submitter token\n'],
    );
    const empty = await cli(['job', 'submit', '--target', 'gimlet', '--token', '', '--', 'true'], {
      LABSLOT_URL: agent.url,
      LABSLOT_TOKEN: '',
    });
    assert.equal(empty.stderr, 'labslot: no token: pass --token or set LABSLOT_TOKEN to a submitter token\n');
    assert.equal(agent.requests.at(-1)?.authorization, undefined, '--token "" sends no Authorization header');
  });

  it('status summarizes a job for people, or prints its JSON, and exits 0 even for a failed job', async (t) => {
    const agent = await startFakeAgent(t, handler);
    const env = { LABSLOT_URL: agent.url };
    const human = await cli(['job', 'status', 'j0002'], env);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^job\s+j0002$/m);
    assert.match(human.stdout, /^state\s+failed \(infrastructure failure\)$/m);
    assert.match(human.stdout, /^slot\s+gimlet-1$/m);
    assert.match(human.stdout, /^command\s+make test$/m);
    assert.match(human.stdout, /^exit code\s+0$/m);
    assert.match(human.stdout, /^reason\s+marked broken: SP probe does not attach$/m);
    assert.match(human.stdout, /^timeout\s+1h$/m);
    assert.match(human.stdout, /^ended\s+2026-11-25T02:34:10Z$/m);
    assert.doesNotMatch(human.stdout, /^waiting/m);
    const queued = await cli(['job', 'status', 'j0003'], env);
    assert.match(queued.stdout, /^waiting\s+gimlet: 2 leased, 0 free$/m);
    assert.match(human.stdout, /^output\s+7 bytes$/m);
    assert.match(queued.stdout, /^output\s+1 byte$/m, 'not "1 bytes"');
    const json = await cli(['job', 'status', 'j0002', '--json'], env);
    assert.equal(json.code, 0);
    assert.deepEqual(JSON.parse(json.stdout), failedJob);
    // Not found is the agent's "no" (exit 1), like a job that failed; only the command line's own mistakes are 2.
    const unknown = await cli(['job', 'status', 'j9999'], env);
    assert.deepEqual([unknown.code, unknown.stderr], [1, 'labslot: no job j9999\n']);
  });

  it('logs prints the output as raw bytes, with or without -f', async (t) => {
    const agent = await startFakeAgent(t, handler);
    const plain = spawnCli(t, ['job', 'logs', 'j0002'], { LABSLOT_URL: agent.url });
    assert.equal(await plain.exited, 0, plain.stderr());
    assert.deepEqual(plain.stdout(), Buffer.from([0x6f, 0x75, 0x74, 0xff, 0x0a, 0x65, 0x6e]));
    const followed = spawnCli(t, ['job', 'logs', '-f', 'j0002'], { LABSLOT_URL: agent.url });
    assert.equal(await followed.exited, 0, followed.stderr());
    assert.deepEqual(followed.stdout(), plain.stdout());
    assert.deepEqual(
      agent.requests.filter((r) => r.path.endsWith('/output')).map((r) => r.query.toString()),
      ['offset=0', 'offset=0&follow=1'],
    );
  });

  it("cancel prints the new state; a job that is already done is exit 1 with the agent's message", async (t) => {
    const agent = await startFakeAgent(t, handler);
    const env = { LABSLOT_URL: agent.url, LABSLOT_TOKEN: OPERATOR };
    const queued = await cli(['job', 'cancel', 'j0003'], env);
    assert.deepEqual([queued.code, queued.stdout], [0, 'job j0003 cancelled\n']);
    const running = await cli(['job', 'cancel', 'j0004'], env);
    assert.deepEqual(
      [running.code, running.stdout],
      [0, 'job j0004 running: cancel requested; it is stopped, cleaned up, and then ends as cancelled\n'],
    );
    const done = await cli(['job', 'cancel', 'j0002'], env);
    assert.deepEqual([done.code, done.stdout, done.stderr], [1, '', 'labslot: job j0002 is already done (failed)\n']);
    assert.equal(agent.requests[0]?.authorization, `Bearer ${OPERATOR}`);
  });

  it('list prints a table, passes the filters, or prints JSON', async (t) => {
    const agent = await startFakeAgent(t, handler);
    const env = { LABSLOT_URL: agent.url };
    const table = await cli(['job', 'list', '--state', 'failed', '--target', 'gimlet', '--limit', '5'], env);
    assert.equal(table.code, 0, table.stderr);
    assert.equal(agent.requests[0]?.query.toString(), 'state=failed&target=gimlet&limit=5');
    const [header, first, second] = table.stdout.split('\n');
    assert.match(header ?? '', /^ID\s+TARGET\s+STATE\s+SLOT\s+EXIT\s+SUBMITTED\s+COMMAND\s+NOTE$/);
    assert.match(first ?? '', /^j0003\s+gimlet\s+queued\s+-\s+-\s+2026-11-25T02:32:23Z\s+make test\s+gimlet: 0 free$/);
    // The job's process exited 0 after marking its slot broken: that is not its verdict, so EXIT shows none.
    assert.match(
      second ?? '',
      /^j0002\s+gimlet\s+failed\s+gimlet-1\s+-\s+2026-11-25T02:32:23Z\s+make test\s+marked broken: SP probe does not attach$/,
    );
    const json = await cli(['job', 'list', '--json'], env);
    assert.equal((JSON.parse(json.stdout) as unknown[]).length, 2);
  });
});
