// Operator and submitter tokens (DESIGN §4): the config holds SHA-256 hashes
// only; a presented token is matched against them in constant time (tokens.ts).
import type { MiddlewareHandler } from 'hono';
import { isLoopback } from '../config/loopback.js';
import type { AppEnv } from './app-deps.js';
import { matchesAny, sha256Hex } from '../tokens.js';
import { withArticle } from '../words.js';
import { HttpError } from './http-error.js';

export type Role = 'operator' | 'submitter';

export interface TokenHashes {
  operators: readonly string[];
  submitters: readonly string[];
}

export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/** The roles a token holds (none for a token that is not configured); every hash is compared, in constant time. */
export function rolesOf(token: string, hashes: TokenHashes): Role[] {
  const roles: Role[] = [];
  if (matchesAny(token, hashes.operators)) roles.push('operator');
  if (matchesAny(token, hashes.submitters)) roles.push('submitter');
  return roles;
}

/** Who did it, for the audit log, without storing the token: the role and the start of the token's hash. */
export function actorOf(role: Role, token: string): string {
  return `${role}:${sha256Hex(token).slice(0, 8)}`;
}

/** The actor of a request's bearer token in `role`, or undefined when the token does not hold that role. */
export function actorAs(header: string | undefined, role: Role, hashes: TokenHashes): string | undefined {
  const token = bearerToken(header);
  return token !== undefined && rolesOf(token, hashes).includes(role) ? actorOf(role, token) : undefined;
}

/** Requires a token of one of `roles`: 401 without a valid token, 403 with a token of another role. */
export function requireRole(roles: Role | readonly Role[], hashes: TokenHashes): MiddlewareHandler<AppEnv> {
  const wanted: readonly Role[] = typeof roles === 'string' ? [roles] : roles;
  const needs = wanted.map(withArticle).join(' or ');
  return async (c, next) => {
    const token = bearerToken(c.req.header('authorization'));
    // `needs` lets a client say it in its own words ("pass --token") rather than in HTTP's.
    if (token === undefined)
      throw new HttpError(401, 'unauthorized', `this needs ${needs} token: send "Authorization: Bearer TOKEN"`, {
        details: { needs: wanted },
      });
    const held = rolesOf(token, hashes);
    const role = wanted.find((r) => held.includes(r));
    if (role !== undefined) {
      c.set('actor', actorOf(role, token));
      await next();
      return;
    }
    if (held.length > 0) throw new HttpError(403, 'forbidden', `this needs ${needs} token`);
    throw new HttpError(401, 'unauthorized', 'the token is not valid');
  };
}

export { isLoopback };

/**
 * The token a request presents: a bearer token, or the password of HTTP Basic
 * auth (the user name is ignored), which is what a browser's login prompt and
 * Prometheus' basic_auth send.
 */
export function presentedToken(header: string | undefined): string | undefined {
  const bearer = bearerToken(header);
  if (bearer !== undefined) return bearer;
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '')?.[1];
  if (basic === undefined) return undefined;
  const decoded = Buffer.from(basic, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 || colon === decoded.length - 1 ? undefined : decoded.slice(colon + 1);
}

/**
 * Why a read is refused, or null when it may go on. Reads are open on loopback
 * (DESIGN §4); an agent listening on a network wants some token (operator or
 * submitter) even to read.
 */
export function readRefusal(listenHost: string, hashes: TokenHashes, header: string | undefined): string | null {
  if (isLoopback(listenHost)) return null;
  const token = presentedToken(header);
  if (token === undefined)
    return 'this agent listens beyond loopback: reading needs a token ("Authorization: Bearer TOKEN", or the token as the password of basic auth)';
  if (rolesOf(token, hashes).length === 0) return 'the token is not valid';
  return null;
}

/** Read-only API routes: see readRefusal. Only GETs are guarded here; writes have their own roles. */
export function requireReader(listenHost: string, hashes: TokenHashes): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    // HEAD runs the GET handler (hono answers it that way), so it is a read too.
    if (c.req.method === 'GET' || c.req.method === 'HEAD') {
      const refusal = readRefusal(listenHost, hashes, c.req.header('authorization'));
      if (refusal !== null) throw new HttpError(401, 'unauthorized', refusal);
    }
    await next();
  };
}
