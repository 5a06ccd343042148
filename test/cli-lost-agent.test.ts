// An agent (or something in its place) that takes the connection and closes it
// without an answer: every client command says so in one line and exits 1. It
// used to exit 13 with no message (a promise nothing settled), which `job run`
// passed off as the job's own exit code.
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { describe, it } from 'node:test';
import { hasStackTrace, runCli } from './helpers/cli.js';

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );
}

describe('client commands against a connection that closes without an answer', () => {
  it('print one labslot: line and exit 1, never 13', async (t) => {
    // Reads the request, then hangs up.
    const closer = createServer((socket) => socket.once('data', () => socket.destroy()));
    const port = await listen(closer);
    t.after(() => new Promise((resolve) => closer.close(resolve)));
    const env = { LABSLOT_URL: `http://127.0.0.1:${port}`, LABSLOT_TOKEN: 'some-token' };
    for (const args of [
      ['job', 'run', '--target', 'tb', '--', 'true'],
      ['job', 'status', 'j1'],
      ['slot', 'hold', 's1', '-m', 'x'],
      ['slots'],
      ['job', 'list'],
      ['job', 'logs', 'j1'],
    ]) {
      const result = await runCli(args, { env });
      assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stderr.trim().split('\n').length, 1, `${args.join(' ')}: one line: ${result.stderr}`);
      assert.match(
        result.stderr,
        /^labslot: cannot reach the agent at http:\/\/127\.0\.0\.1:\d+\/: the connection was closed without (an answer \(ECONNRESET\)|a complete answer)\n$/,
        args.join(' '),
      );
      assert.equal(hasStackTrace(result.stderr), false);
    }
  });

  it('job run: output lost mid-way after the job was queued is one line per retry and exit 1', async (t) => {
    // Takes the submission, then hangs up on every output request.
    const half = createHttpServer((request, response) => {
      if (request.method === 'POST' && request.url === '/v1/jobs') {
        response.writeHead(201, { 'content-type': 'application/json' }).end(
          // The agent's answer to a submission: the id and the job as queued.
          JSON.stringify({
            id: 'j1',
            job: {
              id: 'j1',
              state: 'queued',
              target: 'tb',
              slot: null,
              requested_slot: null,
              worker_id: null,
              done: false,
            },
          }),
        );
        return;
      }
      request.socket.destroy();
    });
    const port = await listen(half);
    t.after(() => new Promise((resolve) => half.close(resolve)));
    const result = await runCli(['job', 'run', '--target', 'tb', '--', 'true'], {
      env: { LABSLOT_URL: `http://127.0.0.1:${port}`, LABSLOT_TOKEN: 'some-token' },
      timeoutMs: 60_000,
    });
    assert.equal(result.code, 1, result.stderr);
    assert.ok(
      result.stderr
        .split('\n')
        .filter(Boolean)
        .every((line) => line.startsWith('labslot: ')),
      result.stderr,
    );
    assert.match(result.stderr, /lost the agent while reading the output of job j1/);
    assert.doesNotMatch(result.stderr, /UND_ERR/);
  });
});
