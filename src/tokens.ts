// Bearer tokens (DESIGN §4), one place for the three things every kind of
// token needs: a new worker token, its SHA-256 hash (the only form the config
// and the database keep) and a constant-time match of a presented token with
// stored hashes. A leaf: http (auth), jobs (worker setup) and demo all use it.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export function sha256Hex(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A worker's bearer token: 256 bits, shown once to the job and stored only as a hash. */
export function newWorkerToken(): string {
  return `lsw_${randomBytes(32).toString('base64url')}`;
}

/**
 * The last candidate whose hash is the token's. Every candidate is compared in
 * constant time, without stopping at a match, so timing says nothing about
 * which hash (or how much of one) matched.
 */
export function findByTokenHash<T>(
  token: string,
  candidates: Iterable<T>,
  hashOf: (candidate: T) => string,
): T | undefined {
  const presented = Buffer.from(sha256Hex(token), 'hex');
  let match: T | undefined;
  for (const candidate of candidates) {
    const stored = Buffer.from(hashOf(candidate), 'hex');
    if (stored.length === presented.length && timingSafeEqual(stored, presented)) match = candidate;
  }
  return match;
}

export function matchesAny(token: string, hashes: readonly string[]): boolean {
  return findByTokenHash(token, hashes, (hash) => hash) !== undefined;
}
