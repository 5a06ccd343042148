// Reads are open on a loopback listener (DESIGN §4). A web page could still
// reach them by DNS rebinding: its own name, re-resolved to 127.0.0.1, makes
// the browser send requests here with that name in Host. So a loopback agent
// answers only requests addressed to a loopback name.
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './app-deps.js';
import { isLoopback } from './auth.js';
import { errorResponse } from './http-error.js';

/** The host part of a Host header: `[::1]:8421` → `::1`, `localhost:8421` → `localhost`. */
export function hostName(header: string): string {
  const bracketed = /^\[([^\]]*)\](?::\d*)?$/.exec(header);
  if (bracketed) return bracketed[1] ?? '';
  return header.replace(/:\d*$/, '').toLowerCase();
}

export function requireLoopbackHost(listenHost: string): MiddlewareHandler<AppEnv> {
  const guarded = isLoopback(listenHost);
  return async (c, next) => {
    const host = c.req.header('host');
    if (guarded && host !== undefined && !isLoopback(hostName(host))) {
      return errorResponse(
        c,
        403,
        'bad_host',
        `this agent listens on loopback and answers only requests addressed to localhost, 127.0.0.1 or [::1], not "${host.slice(0, 100)}"`,
      );
    }
    await next();
  };
}
