// An agent's requests to another agent of the lab (DESIGN §7: any agent is a
// front door, and output is proxied from the host that runs the job). The
// answer's body streams (following a job's output can last minutes); the
// peer's certificate is checked against the lab's CA ([lab] ca) when there is
// one; a redirect is answered as it is, never followed.
import { describeConnectionFailure } from './connection-failure.js';
import { streamRequest } from './stream-request.js';

/** The peer gave no answer: refused, unreachable, its certificate not trusted. The URL and the reason are in the message. */
export class PeerUnreachableError extends Error {
  override readonly name = 'PeerUnreachableError';
  constructor(
    readonly url: URL,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`cannot reach the agent at ${url.origin}: ${reason}`, options);
  }
}

export interface PeerInit {
  method: string;
  headers: Headers | Record<string, string>;
  body?: ReadableStream<Uint8Array> | Uint8Array | string;
  /** Bounds the whole exchange, body included; aborting rejects with its reason, not a PeerUnreachableError. */
  signal: AbortSignal;
}

export async function peerFetch(url: URL, init: PeerInit, tls: { ca?: string }): Promise<Response> {
  try {
    return await streamRequest(url, init, tls.ca === undefined ? {} : { ca: tls.ca });
  } catch (error) {
    if (init.signal.aborted) throw error;
    throw new PeerUnreachableError(url, describeConnectionFailure(error), { cause: error });
  }
}
