// Walks the zod schema to list the keys a config may contain. Used to suggest
// the intended key for a typo, and by the test that keeps the README's
// configuration reference complete.
import type { z } from 'zod';

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  valueType?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  values?: unknown[];
}

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** The object schemas a value at this schema may be (through optionals, defaults, unions). */
function objectShapes(schema: z.ZodType): Record<string, z.ZodType>[] {
  const def = defOf(schema);
  if (def.type === 'object' && def.shape) return [def.shape];
  const inner = def.innerType ?? def.in;
  if (inner) return objectShapes(inner);
  if (def.options) return def.options.flatMap(objectShapes);
  return [];
}

function children(schema: z.ZodType): { key: string | null; schema: z.ZodType }[] {
  const out: { key: string | null; schema: z.ZodType }[] = [];
  for (const shape of objectShapes(schema))
    for (const [key, child] of Object.entries(shape)) out.push({ key, schema: child });
  const def = defOf(unwrap(schema));
  if (def.type === 'record' && def.valueType) out.push({ key: null, schema: def.valueType });
  if (def.type === 'array' && def.element) out.push({ key: null, schema: def.element });
  return out;
}

function unwrap(schema: z.ZodType): z.ZodType {
  const def = defOf(schema);
  const inner = def.innerType ?? def.in;
  return inner && def.type !== 'object' ? unwrap(inner) : schema;
}

/**
 * Allowed keys of the table at `path` (record and array steps match any key or
 * index). Given the table itself, a union keeps only the options its
 * discriminators select: a usb device's keys, not a serial console's `baud`.
 */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[], table?: unknown): string[] {
  let current: z.ZodType[] = [schema];
  for (const part of path) {
    current = current.flatMap((s) =>
      children(s)
        .filter((c) => c.key === null || c.key === part)
        .map((c) => c.schema),
    );
  }
  const shapes = current.flatMap(objectShapes).filter((shape) => selects(shape, table));
  return [...new Set(shapes.flatMap((shape) => Object.keys(shape)))].sort();
}

/** Whether the table matches every literal key of the shape (`kind = "usb"`, `driver = "command"`); any shape matches no table. */
function selects(shape: Record<string, z.ZodType>, table: unknown): boolean {
  if (typeof table !== 'object' || table === null) return true;
  return Object.entries(shape).every(([key, child]) => {
    const def = defOf(child);
    return def.type !== 'literal' || (def.values ?? []).includes((table as Record<string, unknown>)[key]);
  });
}

/** Every key path the schema accepts, records and arrays written as `<name>`: `devices.<name>.vid`. */
export function allKeyPaths(schema: z.ZodType, prefix = ''): string[] {
  const paths = new Set<string>();
  for (const { key, schema: child } of children(schema)) {
    const here =
      key === null
        ? defOf(unwrap(schema)).type === 'array'
          ? prefix
          : `${prefix}.<name>`
        : prefix === ''
          ? key
          : `${prefix}.${key}`;
    if (key !== null) paths.add(here);
    for (const deeper of allKeyPaths(child, here)) paths.add(deeper);
  }
  return [...paths].sort();
}
