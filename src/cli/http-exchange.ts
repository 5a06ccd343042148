// One small request and its whole answer over node:http (or https), for the
// client's JSON calls. Not fetch: Node compiles its bundled undici on the
// first fetch() of a process, 100 to 200 ms, which is more than the rest of a
// `labslot slots` or `labslot worker mark-broken` call. Streams (job output,
// archives) use http/stream-request.ts, node:https too, for the CA.
import { coerceError } from '../errors.js';
import type { TlsTrust } from '../http/tls-trust.js';

/** The request failed; `answered` tells whether the headers had arrived (a connection lost mid-answer). */
export class ExchangeFailure extends Error {
  override readonly name = 'ExchangeFailure';
  constructor(
    readonly answered: boolean,
    options: { cause: unknown },
  ) {
    super(answered ? 'lost the connection mid-answer' : 'no answer', options);
  }
}

export interface Exchange {
  method: string;
  headers: Record<string, string>;
  body?: string;
  /** Aborting rejects with the signal's reason, as fetch does. */
  signal: AbortSignal;
}

export async function exchange(
  url: URL,
  init: Exchange,
  trust: TlsTrust = {},
): Promise<{ status: number; text: string }> {
  const secure = url.protocol === 'https:';
  // node:tls and the trust options are loaded only for an https:// agent: most calls are on loopback, in plain HTTP.
  const [{ request }, tls] = secure
    ? await Promise.all([import('node:https'), import('../http/tls-trust.js').then((m) => m.tlsOptions(trust))])
    : [await import('node:http'), {}];
  init.signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    let answered = false;
    let settled = false;
    const settle = (finish: () => void): void => {
      if (settled) return;
      settled = true;
      init.signal.removeEventListener('abort', onAbort);
      finish();
    };
    const fail = (error: unknown): void => settle(() => reject(new ExchangeFailure(answered, { cause: error })));
    const headers =
      init.body === undefined
        ? init.headers
        : { ...init.headers, 'content-length': String(Buffer.byteLength(init.body)) };
    const req = request(url, { method: init.method, headers, ...tls }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        settle(() => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') })),
      );
      res.on('error', fail);
      res.on('close', () => {
        if (!res.complete) fail(new Error('the connection closed before the answer was complete'));
      });
    });
    const onAbort = (): void => {
      settle(() => reject(coerceError(init.signal.reason)));
      req.destroy();
    };
    init.signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', fail);
    req.end(init.body);
  });
}
