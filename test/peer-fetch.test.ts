// peerFetch (src/http/peer-fetch.ts), the agent's requests to another agent,
// against a real HTTPS server with certificates from a CA made by openssl:
// refused without that CA, answered with it, a body that streams in pieces,
// a redirect answered as it is, a refused port named as such.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { peerFetch, PeerUnreachableError } from '../src/http/peer-fetch.js';
import { freePort } from './helpers/free-port.js';
import { lifo } from './helpers/cleanup.js';
import { requires } from './helpers/prerequisites.js';
import { OPENSSL, testCerts, type TestCerts } from './helpers/tls-certs.js';

async function httpsServer(
  t: TestContext,
  certs: TestCerts,
  handler: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<URL> {
  const server: Server = createServer(
    { cert: readFileSync(certs.cert, 'utf8'), key: readFileSync(certs.key, 'utf8') },
    handler,
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  lifo(t).after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

const init = (): { method: string; headers: Record<string, string>; signal: AbortSignal } => ({
  method: 'GET',
  headers: { accept: 'text/plain' },
  signal: AbortSignal.timeout(30_000),
});

describe('peerFetch', () => {
  it('refuses a peer whose certificate its CA did not sign, naming the URL and why', async (t) => {
    if (!requires(t, OPENSSL)) return;
    const certs = testCerts(t);
    const base = await httpsServer(t, certs, (_req, res) => res.end('hello'));
    const url = new URL('/v1/jobs/j1/output', base);
    for (const ca of [undefined, readFileSync(certs.otherCa, 'utf8')]) {
      const error = await peerFetch(url, init(), ca === undefined ? {} : { ca }).then(
        () => assert.fail('answered'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof PeerUnreachableError, String(error));
      assert.equal(error.url, url);
      assert.match(
        error.message,
        new RegExp(`^cannot reach the agent at ${base.origin}: the agent's certificate is not trusted \\(.+\\)$`),
      );
    }
  });

  it("streams a body in pieces with the lab's CA, and sends a streamed body", async (t) => {
    if (!requires(t, OPENSSL)) return;
    const certs = testCerts(t);
    let finish: () => void = () => undefined;
    const rest = new Promise<void>((resolve) => (finish = resolve));
    let received = '';
    const base = await httpsServer(t, certs, (req, res) => {
      if (req.method === 'POST') {
        req.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
        req.on('end', () => res.writeHead(201, { 'content-type': 'application/json' }).end('{"ok":true}'));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain', 'x-peer': 'b' });
      // The second piece only once the client has read the first: the body streams, it is not buffered.
      res.write('first piece\n');
      void rest.then(() => res.end('second piece\n'));
    });
    const ca = readFileSync(certs.ca, 'utf8');
    const response = await peerFetch(new URL('/v1/jobs/j1/output?follow=1', base), init(), { ca });
    assert.deepEqual([response.status, response.headers.get('x-peer')], [200, 'b']);
    assert.ok(response.body !== null);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const first = await reader.read();
    assert.equal(first.value, 'first piece\n');
    finish();
    let tail = '';
    for (let part = await reader.read(); !part.done; part = await reader.read()) tail += part.value;
    assert.equal(tail, 'second piece\n');

    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"target":'));
        controller.enqueue(new TextEncoder().encode('"tb"}'));
        controller.close();
      },
    });
    const posted = await peerFetch(
      new URL('/v1/jobs', base),
      {
        method: 'POST',
        headers: new Headers({ 'content-type': 'application/json' }),
        body,
        signal: AbortSignal.timeout(30_000),
      },
      { ca },
    );
    assert.deepEqual([posted.status, await posted.json()], [201, { ok: true }]);
    assert.equal(received, '{"target":"tb"}');
  });

  it('answers a redirect as it is, never following it', async (t) => {
    if (!requires(t, OPENSSL)) return;
    const certs = testCerts(t);
    const paths: string[] = [];
    const base = await httpsServer(t, certs, (req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(302, { location: '/elsewhere' }).end();
    });
    const response = await peerFetch(new URL('/v1/slots', base), init(), { ca: readFileSync(certs.ca, 'utf8') });
    assert.deepEqual([response.status, response.headers.get('location'), paths], [302, '/elsewhere', ['/v1/slots']]);
  });

  it('rejects a port nobody listens on with PeerUnreachableError: connection refused', async () => {
    const url = new URL(`https://127.0.0.1:${await freePort()}/v1/slots`);
    await assert.rejects(peerFetch(url, init(), {}), (error: unknown) => {
      assert.ok(error instanceof PeerUnreachableError);
      assert.equal(
        error.message,
        `cannot reach the agent at ${url.origin}: connection refused (is the agent running?)`,
      );
      return true;
    });
  });

  it("rejects with the signal's reason when aborted, not as an unreachable peer", async (t) => {
    if (!requires(t, OPENSSL)) return;
    const certs = testCerts(t);
    // Never answers.
    const base = await httpsServer(t, certs, () => undefined);
    const controller = new AbortController();
    const pending = peerFetch(
      new URL('/v1/slots', base),
      { ...init(), signal: controller.signal },
      { ca: readFileSync(certs.ca, 'utf8') },
    );
    controller.abort(new Error('the client went away'));
    await assert.rejects(pending, /the client went away/);
  });
});
