// A stand-in for the agent's job API (a real node:http server on loopback),
// for tests of client-only behaviour: reconnecting a broken output stream,
// mapping a job's end to an exit code, reacting to Ctrl-C. Each test scripts
// the answers; every request is recorded so the test can check what was sent.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import type { JobView } from './api-types.js';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  authorization: string | undefined;
}

export type Handler = (request: RecordedRequest, res: ServerResponse, req: IncomingMessage) => void | Promise<void>;

export interface FakeAgent {
  url: string;
  requests: RecordedRequest[];
}

export async function startFakeAgent(t: TestContext, handle: Handler): Promise<FakeAgent> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const text = Buffer.concat(chunks).toString('utf8');
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        body: text === '' ? undefined : (JSON.parse(text) as unknown),
        authorization: req.headers.authorization,
      };
      requests.push(recorded);
      Promise.resolve(handle(recorded, res, req)).catch((error: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { error: { code: 'test_bug', message: String(error) } });
        else res.destroy();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

export function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { error: { code, message } });
}

/** Starts a streamed text/plain answer (chunked, like the agent's follow stream). */
export function startStream(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  res.flushHeaders();
}

/** Writes bytes and resolves once they are on the socket. */
export function writeBytes(res: ServerResponse, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => res.write(bytes, (error) => (error ? reject(error) : resolve())));
}

/** A job view as the contract describes it, with the test's fields over sensible defaults. */
export function jobJson(overrides: Partial<JobView> = {}): JobView {
  const state = overrides.state ?? 'queued';
  return {
    id: 'j0001',
    target: 'gimlet',
    state,
    slot: null,
    worker_id: null,
    requested_slot: null,
    allow_held_by: null,
    argv: ['make', 'test'],
    script: null,
    env: {},
    priority: 0,
    timeout_ms: 3_600_000,
    submitted_by: 'submitter:4281a7c7',
    submitted_at: '2026-11-25T02:32:23.710Z',
    started_at: null,
    ended_at: null,
    exit_code: null,
    signal: null,
    end_reason: null,
    ended_by: null,
    infrastructure: false,
    waiting: null,
    input: 'none',
    archives: null,
    outputs_bytes: null,
    done: state === 'succeeded' || state === 'failed' || state === 'cancelled',
    output_bytes: 0,
    ...overrides,
  };
}
