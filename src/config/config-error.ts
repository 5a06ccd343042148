// A configuration problem, located so an operator can go straight to it:
// file and line:column for TOML syntax, the key path (and a best-effort line)
// for everything the schema or the cross-checks reject.

export interface ConfigIssue {
  file: string;
  /** `slots.gimlet-1.devices[2]`; absent for file-level problems such as syntax errors. */
  path?: string;
  line?: number;
  column?: number;
  message: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], options?: ErrorOptions) {
    const first = issues[0];
    super(
      issues.length === 1 && first
        ? formatIssue(first)
        : `${issues.length} problems in ${first?.file ?? 'configuration'}`,
      options,
    );
    this.issues = issues;
  }
}

/** One line per issue: `slots.toml:12:3: slots.gimlet-1.devices[2]: unknown device "x"`. */
export function formatIssue(issue: ConfigIssue): string {
  let where = issue.file;
  if (issue.line !== undefined) where += `:${issue.line}`;
  if (issue.line !== undefined && issue.column !== undefined) where += `:${issue.column}`;
  return issue.path === undefined ? `${where}: ${issue.message}` : `${where}: ${issue.path}: ${issue.message}`;
}

/** `["slots", "gimlet-1", "devices", 2]` → `slots.gimlet-1.devices[2]`; odd keys are quoted as in TOML. */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else {
      const key = String(part);
      const bare = /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
      out += out === '' ? bare : `.${bare}`;
    }
  }
  return out;
}
