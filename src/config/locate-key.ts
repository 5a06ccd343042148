// Best-effort mapping from a key path to the line where it is written, so that
// schema errors point at a line like syntax errors do. The TOML parser keeps no
// positions, so this scans table headers and `key =` lines; when a key cannot be
// found (inline tables, dotted keys) the caller reports the path alone.

interface Table {
  path: string[];
  headerLine: number;
  bodyStart: number;
  bodyEnd: number;
}

export class KeyLocator {
  private readonly lines: string[];
  private readonly tables: Table[];

  constructor(source: string) {
    this.lines = source.split(/\r?\n/);
    this.tables = [{ path: [], headerLine: 0, bodyStart: 0, bodyEnd: this.lines.length }];
    this.lines.forEach((text, index) => {
      const header = /^\s*\[\[?\s*([^[\]#]+?)\s*\]\]?\s*(?:#.*)?$/.exec(text);
      if (!header?.[1]) return;
      const previous = this.tables.at(-1);
      if (previous) previous.bodyEnd = index;
      this.tables.push({
        path: splitDotted(header[1]),
        headerLine: index + 1,
        bodyStart: index + 1,
        bodyEnd: this.lines.length,
      });
    });
  }

  /** 1-based line of the deepest part of `path` that can be found, if any. */
  lineOf(path: readonly PropertyKey[]): number | undefined {
    const keys: string[] = [];
    for (const part of path) {
      if (typeof part !== 'string') break;
      keys.push(part);
    }
    let best: Table | undefined;
    for (const table of this.tables) {
      if (table.path.length <= keys.length && table.path.every((k, i) => k === keys[i])) {
        if (!best || table.path.length > best.path.length) best = table;
      }
    }
    if (!best) return undefined;
    const key = keys[best.path.length];
    if (key !== undefined) {
      for (let i = best.bodyStart; i < best.bodyEnd; i++) {
        const text = this.lines[i] ?? '';
        const assigned = /^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*[=.]/.exec(text);
        if (assigned?.[1] !== undefined && unquote(assigned[1]) === key) return i + 1;
      }
    }
    return best.headerLine === 0 ? undefined : best.headerLine;
  }
}

function splitDotted(text: string): string[] {
  const parts = text.match(/"[^"]*"|'[^']*'|[^.\s]+/g) ?? [];
  return parts.map(unquote);
}

function unquote(text: string): string {
  if ((text.startsWith('"') && text.endsWith('"')) || (text.startsWith("'") && text.endsWith("'")))
    return text.slice(1, -1);
  return text;
}
