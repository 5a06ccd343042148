// Worker tokens (DESIGN §4): each job gets its own bearer token, stored only
// as a SHA-256 hash on its worker row. It is valid while that worker runs and
// not a moment after its cleanup begins; it grants mark-broken and power of its
// own slot and nothing else. Operator and submitter tokens are not worker tokens.
import { eq } from 'drizzle-orm';
import type { MiddlewareHandler } from 'hono';
import type { Db } from '../db/open-database.js';
import { workers } from '../db/schema.js';
import type { AppEnv } from './app-deps.js';
import { findByTokenHash, sha256Hex } from '../tokens.js';
import { bearerToken, rolesOf, type TokenHashes } from './auth.js';
import { HttpError } from './http-error.js';

export interface AuthenticatedWorker {
  id: string;
  jobId: string;
  slot: string;
}

export type WorkerEnv = AppEnv & { Variables: { worker: AuthenticatedWorker } };

export function requireWorker(db: Db, hashes: TokenHashes): MiddlewareHandler<WorkerEnv> {
  return async (c, next) => {
    const token = bearerToken(c.req.header('authorization'));
    if (token === undefined)
      throw new HttpError(
        401,
        'unauthorized',
        'this needs the worker token of a running job ($LABSLOT_TOKEN inside the job)',
      );
    // Compared with every running worker's hash in constant time, without stopping at a match.
    const running = db
      .select({ id: workers.id, jobId: workers.jobId, slot: workers.slot, tokenHash: workers.tokenHash })
      .from(workers)
      .where(eq(workers.state, 'running'))
      .all();
    const found = findByTokenHash(token, running, (w) => w.tokenHash);
    const match: AuthenticatedWorker | undefined = found && { id: found.id, jobId: found.jobId, slot: found.slot };
    if (match) {
      c.set('worker', match);
      c.set('actor', `worker:${match.id}`);
      await next();
      return;
    }
    if (rolesOf(token, hashes).length > 0) {
      throw new HttpError(
        403,
        'forbidden',
        'this needs a worker token; operator and submitter tokens cannot act for a job',
      );
    }
    const expired = db
      .select({ id: workers.id })
      .from(workers)
      .where(eq(workers.tokenHash, sha256Hex(token)))
      .get();
    if (expired)
      throw new HttpError(401, 'token_expired', `the token of worker ${expired.id} expired when its job ended`);
    throw new HttpError(401, 'unauthorized', 'the token is not valid');
  };
}
