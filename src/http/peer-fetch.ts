// Requests from this agent to another of its lab (DESIGN §7), for proxying.
// PLACEHOLDER until the HTTPS work lands: plain fetch, no CA.
export class PeerUnreachableError extends Error {
  override readonly name = 'PeerUnreachableError';
}

export async function peerFetch(
  url: URL,
  init: {
    method: string;
    headers: Headers | Record<string, string>;
    body?: ReadableStream<Uint8Array> | Uint8Array | string;
    signal: AbortSignal;
  },
  _tls: { ca?: string },
): Promise<Response> {
  try {
    return await fetch(url, {
      method: init.method,
      headers: init.headers,
      body: init.body,
      signal: init.signal,
      redirect: 'manual',
      ...(init.body instanceof ReadableStream ? { duplex: 'half' } : {}),
    });
  } catch (error) {
    throw new PeerUnreachableError(`${url.origin} does not answer: ${(error as Error).message}`, { cause: error });
  }
}
