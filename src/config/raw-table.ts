// Reading the raw TOML value before (or despite) the schema: checks that
// relate several parts of a file run on it, so one type error elsewhere does
// not hide them.

export type Table = Record<string, unknown>;

export function isTable(value: unknown): value is Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The string items of an array with their indexes; anything else yields none. */
export function stringsIn(value: unknown): [number, string][] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((item, index): [number, string][] => (typeof item === 'string' ? [[index, item]] : []));
}
