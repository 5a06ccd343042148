// Binding the HTTP server (HTTPS with `[agent] tls`), with the bind errors an
// operator can act on turned into one clear sentence instead of an 'error'
// event nobody listens to.
import { createServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { Hono } from 'hono';
import type { ListenAddress } from '../config/schema.js';
import type { AgentTls } from '../config/tls-files.js';
import type { Logger } from '../log.js';
import type { AppEnv } from './app-deps.js';

export class ListenError extends Error {
  override readonly name = 'ListenError';
}

/**
 * What one client may hold. Jobs are untrusted and reach the agent over loopback: a job that opens
 * thousands of connections must find them refused, not take the agent's file descriptors (a health
 * check's spawn, the database) with them. A refused connection is closed at once.
 */
export const CONNECTION_LIMITS = {
  total: 2048,
  perAddress: 256,
  /** A client that has not sent its headers by then is cut off (slowloris). */
  headersMs: 15_000,
  /** The whole request, body included: an input upload of [jobs] max_input must fit in it. */
  requestMs: 15 * 60_000,
} as const;

/** The agent's listener: plain HTTP, or HTTPS with `[agent] tls`; the same limits either way. */
export type Server = HttpServer | HttpsServer;

export async function listen(
  app: Hono<AppEnv>,
  address: ListenAddress,
  log: Logger,
  tls?: AgentTls,
): Promise<{ server: Server; port: number }> {
  const handle = getRequestListener(app.fetch);
  // The listener is async and reports its own failures through app.onError.
  const listener = (request: Parameters<typeof handle>[0], response: Parameters<typeof handle>[1]): void =>
    void handle(request, response);
  const server: Server =
    tls === undefined
      ? createServer(listener)
      : // A client that connects and never finishes its handshake is cut off as one that never sends headers.
        createHttpsServer({ cert: tls.cert, key: tls.key, handshakeTimeout: CONNECTION_LIMITS.headersMs }, listener);
  // Idle keep-alive sockets would otherwise hold a graceful stop for their full timeout.
  server.keepAliveTimeout = 5_000;
  server.maxConnections = CONNECTION_LIMITS.total;
  server.headersTimeout = CONNECTION_LIMITS.headersMs;
  server.requestTimeout = CONNECTION_LIMITS.requestMs;
  boundPerAddress(server, CONNECTION_LIMITS.perAddress, log);
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      const where = address.host.includes(':')
        ? `[${address.host}]:${address.port}`
        : `${address.host}:${address.port}`;
      const why =
        error.code === 'EADDRINUSE'
          ? 'the address is already in use (is another agent running?)'
          : error.code === 'EADDRNOTAVAIL'
            ? 'no interface of this host has that address'
            : error.code === 'EACCES'
              ? 'permission denied'
              : error.message;
      reject(new ListenError(`cannot listen on ${where}: ${why}`, { cause: error }));
    };
    server.once('error', onError);
    server.listen(address.port, address.host, () => {
      server.off('error', onError);
      // Later errors (EMFILE on accept, ...) are logged; one bad moment must not stop the agent.
      server.on('error', (error) => log.error({ err: error }, 'http server error'));
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}

/** Stops accepting, lets in-flight requests finish for `graceMs`, then drops what is left. */
export async function closeServer(server: Server, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  timer.unref();
  await closed;
  clearTimeout(timer);
}

/** Closes a new connection at once when its address already holds `max`; logs the first refusal of each burst. */
function boundPerAddress(server: Server, max: number, log: Logger): void {
  const open = new Map<string, number>();
  const refusing = new Set<string>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    const count = open.get(address) ?? 0;
    if (count >= max) {
      socket.destroy();
      if (!refusing.has(address)) log.warn({ address, max }, 'too many connections from one address; refusing more');
      refusing.add(address);
      return;
    }
    open.set(address, count + 1);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
      refusing.delete(address);
    });
  });
}
