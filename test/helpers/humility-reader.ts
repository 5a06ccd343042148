// What humility does with HUMILITY_ENVIRONMENT before it runs any command,
// mirrored from oxidecomputer/humility: humility-cli/src/env.rs (`struct
// Environment { probe: String, archive: serde_json::Value, description:
// Option<String>, cmds: Option<serde_json::Value> }` under
// #[serde(deny_unknown_fields)], read as IndexMap<String, Environment>;
// `Environment::archive`) and the CLI's environment handling (`-t TARGET`,
// `--archive-name`, "failed to match environment", "Failed to get archive").
// Errors are worded as serde and humility word them. No humility binary is
// installed on lab-less machines, so tests check labslot's file with this.

const FIELDS = ['probe', 'archive', 'description', 'cmds'] as const;

export type Reading =
  { ok: true; probe: string; archive: string } | { ok: true; targets: string[] } | { ok: false; error: string };

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'sequence';
  if (typeof value === 'object') return 'map';
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`;
  if (typeof value === 'boolean') return `boolean \`${String(value)}\``;
  return typeof value === 'number' ? `integer \`${value}\`` : typeof value;
}

/** serde_json::from_str::<IndexMap<String, Environment>>: the first error, in serde's words, or the entries. */
function deserialize(
  text: string,
): { ok: true; entries: Map<string, Record<string, unknown>> } | { ok: false; error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, error: `invalid type: ${jsonType(value)}, expected a map` };
  const entries = new Map<string, Record<string, unknown>>();
  for (const [target, entry] of Object.entries(value as Record<string, unknown>)) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      return { ok: false, error: `invalid type: ${jsonType(entry)}, expected struct Environment` };
    // Fields in document order: an unknown one or a wrong type stops at once, missing ones are found at the end.
    for (const [field, fieldValue] of Object.entries(entry as Record<string, unknown>)) {
      if (!(FIELDS as readonly string[]).includes(field))
        return {
          ok: false,
          error: `unknown field \`${field}\`, expected one of ${FIELDS.map((f) => `\`${f}\``).join(', ')}`,
        };
      if (field === 'probe' && typeof fieldValue !== 'string')
        return { ok: false, error: `invalid type: ${jsonType(fieldValue)}, expected a string` };
      if (field === 'description' && fieldValue !== null && typeof fieldValue !== 'string')
        return { ok: false, error: `invalid type: ${jsonType(fieldValue)}, expected a string` };
      // archive and cmds are serde_json::Value: any JSON is accepted here.
    }
    for (const required of ['probe', 'archive']) {
      if (!Object.hasOwn(entry, required)) return { ok: false, error: `missing field \`${required}\`` };
    }
    entries.set(target, entry as Record<string, unknown>);
  }
  return { ok: true, entries };
}

/** Environment::archive(&archive_name). */
function pickArchive(
  archive: unknown,
  archiveName: string | undefined,
): { ok: true; path: string } | { ok: false; error: string } {
  if (typeof archive === 'string')
    return archiveName === undefined
      ? { ok: true, path: archive }
      : { ok: false, error: 'an archive name was specified but there is only one archive' };
  if (typeof archive === 'object' && archive !== null && !Array.isArray(archive)) {
    if (archiveName === undefined) return { ok: false, error: 'Need an archive name' };
    if (!Object.hasOwn(archive, archiveName)) return { ok: false, error: `Couldn't find archive ${archiveName}` };
    const path = (archive as Record<string, unknown>)[archiveName];
    return typeof path === 'string' ? { ok: true, path } : { ok: false, error: 'Badly formed archive entry' };
  }
  return { ok: false, error: 'Badly formed archive entry' };
}

/**
 * What `humility [-t TARGET [--archive-name NAME]]` does with HUMILITY_ENVIRONMENT
 * set to this file before it runs any command: with a target, it takes probe and
 * archive from that entry; without one, it still parses the whole file.
 */
export function humilityReads(text: string, target?: string, archiveName?: string): Reading {
  const parsed = deserialize(text);
  if (target === undefined)
    return parsed.ok
      ? { ok: true, targets: [...parsed.entries.keys()] }
      : { ok: false, error: `failed to parse environment: ${parsed.error}` };
  if (!parsed.ok) return { ok: false, error: `failed to match environment: ${parsed.error}` };
  const entry = parsed.entries.get(target);
  if (entry === undefined)
    return {
      ok: false,
      error: `failed to match environment: invalid target "${target}" (expected one of: ${[...parsed.entries.keys()].join(', ')})`,
    };
  const archive = pickArchive(entry['archive'], archiveName);
  if (!archive.ok) return { ok: false, error: `Failed to get archive: ${archive.error}` };
  return { ok: true, probe: entry['probe'] as string, archive: archive.path };
}
