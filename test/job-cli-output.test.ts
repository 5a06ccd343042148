// The client's output streaming (src/cli/job-output.ts) on its own: bounded
// retries without progress, unbounded while every attempt brings bytes, no
// retry of a refusal.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AgentClient } from '../src/cli/agent-client.js';
import { CliError } from '../src/cli/exit-codes.js';
import { copyOutput, followOutput } from '../src/cli/job-output.js';
import { jobJson, sendError, sendJson, startFakeAgent, startStream, writeBytes } from './helpers/fake-job-agent.js';

describe('job output streaming (unit)', () => {
  const quick = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 };
  const collect = (): { write: (chunk: Uint8Array) => Promise<void>; bytes: () => Buffer } => {
    const chunks: Buffer[] = [];
    return {
      write: (chunk) => Promise.resolve(void chunks.push(Buffer.from(chunk))),
      bytes: () => Buffer.concat(chunks),
    };
  };

  it('retries a stream that keeps breaking without progress a bounded number of times', async (t) => {
    const agent = await startFakeAgent(t, (r, res) => {
      if (r.path.endsWith('/output')) return void res.socket?.destroy();
      sendJson(res, 200, jobJson({ state: 'running' }));
    });
    const retries: string[] = [];
    const sink = collect();
    await assert.rejects(
      followOutput(new AgentClient(agent.url, undefined), 'j0001', {
        write: sink.write,
        signal: AbortSignal.timeout(10_000),
        retry: quick,
        retryFirstAttempt: true,
        onRetry: (_p, offset, n, of) => retries.push(`${offset}:${n}/${of}`),
      }),
      (error: unknown) =>
        error instanceof CliError && error.exitCode === 1 && /at byte 0, 3 attempts in a row/.test(error.message),
    );
    assert.deepEqual(retries, ['0:2/3', '0:3/3']);
    assert.equal(agent.requests.filter((r) => r.path.endsWith('/output')).length, 3);
  });

  it('keeps going as long as every attempt brings bytes, however often the stream breaks', async (t) => {
    const text = Buffer.from('abcdef');
    let sent = 0;
    const agent = await startFakeAgent(t, async (r, res) => {
      if (r.path.endsWith('/output')) {
        const offset = Number(r.query.get('offset'));
        startStream(res);
        if (offset < text.length) await writeBytes(res, text.subarray(offset, offset + 1));
        sent = offset + 1;
        return void res.socket?.destroy();
      }
      sendJson(res, 200, jobJson({ state: sent >= text.length ? 'succeeded' : 'running', output_bytes: text.length }));
    });
    const sink = collect();
    const job = await followOutput(new AgentClient(agent.url, undefined), 'j0001', {
      write: sink.write,
      signal: AbortSignal.timeout(10_000),
      retry: quick,
    });
    assert.equal(job.state, 'succeeded');
    assert.deepEqual(sink.bytes(), text);
    assert.deepEqual(
      agent.requests.filter((r) => r.path.endsWith('/output')).map((r) => r.query.get('offset')),
      ['0', '1', '2', '3', '4', '5'],
    );
  });

  it('does not retry what the agent refuses, and copies without follow in one request', async (t) => {
    const agent = await startFakeAgent(t, async (r, res) => {
      if (r.path === '/v1/jobs/nope/output') return sendError(res, 404, 'job_not_found', 'no job nope');
      startStream(res);
      await writeBytes(res, Buffer.from('so far'));
      res.end();
    });
    const client = new AgentClient(agent.url, undefined);
    await assert.rejects(
      followOutput(client, 'nope', { write: collect().write, signal: AbortSignal.timeout(10_000), retry: quick }),
      (error: unknown) => error instanceof CliError && error.exitCode === 1 && error.message === 'no job nope',
    );
    assert.equal(agent.requests.length, 1);
    const sink = collect();
    assert.equal(await copyOutput(client, 'j0001', { write: sink.write, signal: AbortSignal.timeout(10_000) }), 6);
    assert.equal(sink.bytes().toString(), 'so far');
    assert.equal(agent.requests.at(-1)?.query.get('follow'), null);
  });
});
