// Reads, parses and validates slots.toml. Every problem in the file is
// collected and thrown at once as a ConfigError, so an operator fixes a config
// in one pass instead of one error per restart.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parse as parseToml } from 'toml';
import { ConfigError, formatKeyPath, type ConfigIssue } from './config-error.js';
import { crossCheck } from './cross-check.js';
import type { DeviceRules } from './device-rules.js';
import { buildLabModel, type LabModel } from './lab-model.js';
import { fileProblem } from './file-problem.js';
import { labTransportIssues } from './lab-transport.js';
import { KeyLocator } from './locate-key.js';
import { describeSchemaIssue } from './describe-issue.js';
import { configSchema, type ListenAddress } from './schema.js';
import { DATE_TIME_MARKERS } from './toml-date-time.js';

export interface ConfigOverrides {
  /** Relative paths are taken from the working directory (command line), not the config's directory. */
  stateDir?: string;
  listen?: ListenAddress;
}

export const DEFAULT_CONFIG_PATH = '/etc/labslot/slots.toml';

/** `-c`, then `$LABSLOT_CONFIG`, then /etc/labslot/slots.toml (DESIGN §4). */
export function configPathFrom(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? (env['LABSLOT_CONFIG'] || DEFAULT_CONFIG_PATH);
}

/** `rules` are the device kinds' (devices/load-lab-config.ts passes them): config knows no kind itself. */
export function loadConfig(file: string, rules: DeviceRules, overrides: ConfigOverrides = {}): LabModel {
  const source = readSource(file);
  const raw = parseSource(file, source);
  const locator = new KeyLocator(source);
  const issues: ConfigIssue[] = [];

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      for (const described of describeSchemaIssue(issue, raw))
        issues.push(located(file, described.path, described.message, locator));
    }
  }
  for (const issue of [...crossCheck(raw), ...rules.rawIssues(raw)]) {
    issues.push(located(file, issue.path, issue.message, locator));
  }

  if (parsed.success)
    for (const issue of labTransportIssues(parsed.data)) issues.push(located(file, issue.path, issue.message, locator));
  if (issues.length > 0 || !parsed.success) throw new ConfigError(sortIssues(issues));
  const config = parsed.data;
  return buildLabModel(config, rules, {
    file,
    agentName: config.agent.name ?? hostname(),
    stateDir:
      overrides.stateDir !== undefined ? resolve(overrides.stateDir) : resolve(dirname(file), config.agent.state_dir),
    listen: overrides.listen ?? config.agent.listen,
  });
}

function readSource(file: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new ConfigError([{ file, message: `cannot read the config file: ${fileProblem(error)}` }], { cause: error });
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    throw new ConfigError([{ file, message: 'is not a UTF-8 text file (TOML must be UTF-8)' }], { cause: error });
  }
}

interface TomlSyntaxError {
  message: string;
  line?: number;
  column?: number;
  found?: string | null;
  location?: { start: { line: number; column: number } };
}

function parseSource(file: string, source: string): unknown {
  try {
    return parseToml(source, { useTemporal: true, temporal: DATE_TIME_MARKERS }) as unknown;
  } catch (error) {
    const e = error as TomlSyntaxError;
    const line = e.line ?? e.location?.start.line;
    const column = e.column ?? e.location?.start.column;
    let message = e.message;
    // The parser lists every token it could have accepted; the unexpected one is what helps.
    if ('found' in e) message = e.found === null ? 'unexpected end of file' : `unexpected ${JSON.stringify(e.found)}`;
    throw new ConfigError([{ file, line, column, message: `TOML syntax error: ${message}` }], { cause: error });
  }
}

function located(file: string, path: readonly PropertyKey[], message: string, locator: KeyLocator): ConfigIssue {
  return { file, path: formatKeyPath(path), line: locator.lineOf(path), message };
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues
    .filter((i) => {
      const key = `${i.path ?? ''}\0${i.message}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort(
      (a, b) =>
        (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER) ||
        (a.path ?? '').localeCompare(b.path ?? ''),
    );
}
