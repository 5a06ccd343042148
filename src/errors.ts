// Error helpers shared by every layer.

/** A caught value as an Error, so that `.message` and `cause` are always there. */
export function coerceError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : JSON.stringify(value));
}

/** The operation is not allowed in the current lifecycle state (e.g. stop before start). */
export class IllegalStateError extends Error {
  override readonly name = 'IllegalStateError';
}

/**
 * The disk is full: SQLite's SQLITE_FULL or a filesystem's ENOSPC (or EDQUOT), here or in any
 * `cause`. Not the agent's bug but the host's state: the API says 507, never 500.
 */
export function isDiskFull(value: unknown): boolean {
  for (let error = value, depth = 0; error !== undefined && error !== null && depth < 8; depth += 1) {
    const code = (error as { code?: unknown }).code;
    if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') return true;
    if (error instanceof Error && /database or disk is full|no space left on device/i.test(error.message)) return true;
    error = (error as { cause?: unknown }).cause;
  }
  return false;
}
