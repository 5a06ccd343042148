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
