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
  return causes(value).some((error) => {
    const code = (error as { code?: unknown }).code;
    return (
      code === 'SQLITE_FULL' ||
      code === 'ENOSPC' ||
      code === 'EDQUOT' ||
      (error instanceof Error && /database or disk is full|no space left on device/i.test(error.message))
    );
  });
}

/**
 * The database cannot be read: a damaged page (SQLITE_CORRUPT), a file that is not a database any more
 * (SQLITE_NOTADB), or an I/O error under it (SQLITE_IOERR_*), here or in any `cause`. The agent's
 * start refuses such a file; at run time the API says 503, never 500.
 */
export function isDatabaseUnreadable(value: unknown): boolean {
  return causes(value).some((error) => {
    const code = (error as { code?: unknown }).code;
    return (
      typeof code === 'string' &&
      (code === 'SQLITE_CORRUPT' ||
        code === 'SQLITE_NOTADB' ||
        code.startsWith('SQLITE_IOERR') ||
        code.startsWith('SQLITE_CORRUPT'))
    );
  });
}

/** The value and its chain of causes (at most eight deep: a cycle must not hang a request). */
function causes(value: unknown): unknown[] {
  const chain: unknown[] = [];
  for (
    let error = value;
    error !== undefined && error !== null && chain.length < 8;
    error = (error as { cause?: unknown }).cause
  )
    chain.push(error);
  return chain;
}
