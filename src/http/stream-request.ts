// A request over node:http or node:https answered as a web Response whose
// body streams: what the CLI's streams (job output, archives) and the agent's
// requests to its peers need, with a CA of the lab's own. Not fetch: giving
// fetch a CA takes undici's Agent from npm (a second copy of undici beside
// Node's, whose versions must agree); node:https takes `ca` as it is, and
// never follows a redirect, which a proxy must not do either.
import type { ClientRequest, IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { coerceError } from '../errors.js';
import type { TlsTrust } from './tls-trust.js';

export interface StreamInit {
  method: string;
  headers: Headers | Record<string, string>;
  body?: ReadableStream<Uint8Array> | Uint8Array | string;
  /** Aborting rejects with the signal's reason, as fetch does, and ends a body being read. */
  signal: AbortSignal;
  /**
   * A connection silent this long is dropped (undici's headers and body
   * timeouts, which fetch had): a follow stream may be quiet for minutes, a
   * dead peer must not hold it forever. 300 s by default.
   */
  idleMs?: number;
}

const DEFAULT_IDLE_MS = 300_000;

/** Statuses whose answer has no body (a Response refuses one). */
const NO_BODY = new Set([204, 205, 304]);

/** Resolves once the answer's headers are in; rejects with the socket's or TLS's error (its `code` says which). */
export async function streamRequest(url: URL, init: StreamInit, trust: TlsTrust = {}): Promise<Response> {
  init.signal.throwIfAborted();
  const secure = url.protocol === 'https:';
  const [{ request }, tls] = secure
    ? await Promise.all([import('node:https'), import('./tls-trust.js').then((m) => m.tlsOptions(trust))])
    : [await import('node:http'), {}];
  const headers = init.headers instanceof Headers ? Object.fromEntries(init.headers.entries()) : { ...init.headers };
  if (typeof init.body === 'string' || init.body instanceof Uint8Array)
    headers['content-length'] = String(Buffer.byteLength(init.body));
  return new Promise<Response>((resolve, reject) => {
    const req: ClientRequest = request(url, { method: init.method, headers, signal: init.signal, ...tls }, (res) => {
      try {
        resolve(toResponse(res, init.method));
      } catch (error) {
        // A status a Response cannot carry (over 599): no answer this client can use.
        res.destroy();
        reject(coerceError(error));
      }
    });
    // Before the answer, a failure rejects; after it, the same failure ends the body (res errors), and this is a no-op.
    req.on('error', (error) => reject(init.signal.aborted ? coerceError(init.signal.reason) : error));
    const idleMs = init.idleMs ?? DEFAULT_IDLE_MS;
    req.setTimeout(idleMs, () =>
      req.destroy(Object.assign(new Error(`no data for ${idleMs / 1000} s`), { code: 'ETIMEDOUT' })),
    );
    const body = init.body;
    if (body === undefined || typeof body === 'string' || body instanceof Uint8Array) req.end(body);
    else {
      const source = Readable.fromWeb(body);
      source.on('error', (error) => req.destroy(error));
      source.pipe(req);
    }
  });
}

function toResponse(res: IncomingMessage, method: string): Response {
  const headers = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2)
    headers.append(res.rawHeaders[i] ?? '', res.rawHeaders[i + 1] ?? '');
  const status = res.statusCode ?? 0;
  if (NO_BODY.has(status) || method === 'HEAD') {
    res.resume();
    return new Response(null, { status, statusText: res.statusMessage ?? '', headers });
  }
  // Cancelling the web stream destroys `res`, and so the connection: a follower that stops reading lets go.
  const body = Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>;
  return new Response(body, { status, statusText: res.statusMessage ?? '', headers });
}
