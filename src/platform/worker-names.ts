// How a worker's Unix user is named: `ls-<worker id without its w>`, so worker
// users are recognisable in `getent passwd`, fit the 32-character limit, and
// give their worker id back. Linux and illumos name them the same way.
export const WORKER_USER_PREFIX = 'ls-';

export function workerUsername(workerId: string): string {
  return `${WORKER_USER_PREFIX}${workerId.slice(1)}`;
}

export function workerIdOfUsername(username: string): string {
  return `w${username.slice(WORKER_USER_PREFIX.length)}`;
}
