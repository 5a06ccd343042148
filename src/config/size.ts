// Sizes as lab operators write them ("4GiB", "512MiB", "1GB", "4096") to bytes.
// Binary (KiB, MiB, GiB, TiB) and decimal (KB, MB, GB, TB) units are both accepted,
// because cgroup limits are usually thought of in GiB and disks in GB.

const UNIT_BYTES: Record<string, number> = {
  '': 1,
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
};
const SIZE = /^(\d+(?:\.\d+)?)\s?(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$/;

/** Bytes for a size string, or undefined when it is not one. */
export function parseSize(text: string): number | undefined {
  const match = SIZE.exec(text);
  if (!match) return undefined;
  const [, amount, unit = ''] = match;
  const factor = UNIT_BYTES[unit];
  if (factor === undefined) return undefined;
  const bytes = Math.round(Number(amount) * factor);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** The other way, in binary units: 1073741824 → "1GiB", 1536 → "1.5KiB", 100 → "100B". */
export function formatSize(bytes: number): string {
  for (const unit of ['TiB', 'GiB', 'MiB', 'KiB'] as const) {
    const factor = UNIT_BYTES[unit] ?? 1;
    if (bytes >= factor) return `${Number((bytes / factor).toFixed(2))}${unit}`;
  }
  return `${bytes}B`;
}
