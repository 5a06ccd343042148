// A strict parser for udev rules files, for tests on hosts whose udev has no
// `udevadm verify` (it arrived in udev 253; Debian 12 has 252). It accepts
// what systemd's udev-rules.c accepts without a warning, and nothing more:
// known keys only, each with the operators and {attribute} udev allows for it
// (an operator udev would "assume" into another is an error here), values in
// double quotes, GOTO only forward to a LABEL of the same file.

export type Operator = '==' | '!=' | '=' | '+=' | '-=' | ':=';

export interface UdevToken {
  key: string;
  attr?: string;
  op: Operator;
  value: string;
}

export interface UdevRule {
  /** 1-based line of the rule's first physical line. */
  line: number;
  tokens: UdevToken[];
}

export interface ParsedRules {
  rules: UdevRule[];
  /** `# ...` lines with their line numbers, to check that each vendor has one. */
  comments: { line: number; text: string }[];
  errors: string[];
}

type AttrRule = 'none' | 'required' | 'optional' | readonly string[];

interface KeySpec {
  ops: readonly Operator[];
  attr: AttrRule;
}

const MATCH: readonly Operator[] = ['==', '!='];
const matchOnly: KeySpec = { ops: MATCH, attr: 'none' };

// From systemd's src/udev/udev-rules.c parse_token(): the operators each key takes without a warning.
const KEYS: Readonly<Record<string, KeySpec>> = {
  ACTION: matchOnly,
  DEVPATH: matchOnly,
  KERNEL: matchOnly,
  SUBSYSTEM: matchOnly,
  DRIVER: matchOnly,
  KERNELS: matchOnly,
  SUBSYSTEMS: matchOnly,
  DRIVERS: matchOnly,
  TAGS: matchOnly,
  RESULT: matchOnly,
  ATTRS: { ops: MATCH, attr: 'required' },
  CONST: { ops: MATCH, attr: ['arch', 'virt'] },
  TEST: { ops: MATCH, attr: 'optional' },
  SYMLINK: { ops: ['==', '!=', '=', '+=', '-=', ':='], attr: 'none' },
  NAME: { ops: ['==', '!=', '=', ':='], attr: 'none' },
  ENV: { ops: ['==', '!=', '=', '+='], attr: 'required' },
  TAG: { ops: ['==', '!=', '=', '+=', '-='], attr: 'none' },
  ATTR: { ops: ['==', '!=', '='], attr: 'required' },
  SYSCTL: { ops: ['==', '!=', '='], attr: 'required' },
  PROGRAM: { ops: ['==', '!=', '='], attr: 'none' },
  IMPORT: { ops: ['==', '!=', '='], attr: ['file', 'program', 'builtin', 'db', 'cmdline', 'parent'] },
  OPTIONS: { ops: ['=', '+=', ':='], attr: 'none' },
  OWNER: { ops: ['=', ':='], attr: 'none' },
  GROUP: { ops: ['=', ':='], attr: 'none' },
  MODE: { ops: ['=', ':='], attr: 'none' },
  SECLABEL: { ops: ['=', '+=', ':='], attr: 'required' },
  RUN: { ops: ['=', '+=', ':='], attr: ['program', 'builtin'] },
  GOTO: { ops: ['='], attr: 'none' },
  LABEL: { ops: ['='], attr: 'none' },
};

/** udev's builtin commands (udev-builtin.c); IMPORT{builtin} of anything else is an error. */
const BUILTINS = new Set([
  'blkid',
  'btrfs',
  'hwdb',
  'input_id',
  'keyboard',
  'kmod',
  'net_driver',
  'net_id',
  'net_setup_link',
  'path_id',
  'uaccess',
  'usb_id',
]);

// KEY, optional {attr}, operator, then a double-quoted value; an e prefix means C escapes inside.
const TOKEN = /^([A-Z_]+)(?:\{([^}]*)\})?\s*(==|!=|\+=|-=|:=|=)\s*(e?)"/;
// As udev-util.c reads values: plain ones unescape only \" (any other backslash is literal),
// escaped ones end at the first quote not preceded by a backslash escape.
const PLAIN_VALUE = /^((?:[^"\\]|\\"|\\(?!"))*)"/;
const ESCAPED_VALUE = /^((?:[^"\\]|\\.)*)"/;

export function parseUdevRules(text: string): ParsedRules {
  const rules: UdevRule[] = [];
  const comments: { line: number; text: string }[] = [];
  const errors: string[] = [];
  const physical = text.split('\n');
  if (physical.at(-1) === '') physical.pop();

  for (let i = 0; i < physical.length; i++) {
    const start = i + 1;
    let line = physical[i] ?? '';
    // A trailing backslash continues the rule on the next line.
    while (line.endsWith('\\') && i + 1 < physical.length) line = line.slice(0, -1) + (physical[++i] ?? '');
    const trimmed = line.trim();
    if (trimmed === '') continue;
    if (trimmed.startsWith('#')) {
      comments.push({ line: start, text: trimmed.slice(1).trim() });
      continue;
    }
    const parsed = parseRule(trimmed, start, errors);
    if (parsed) rules.push(parsed);
  }
  checkGotos(rules, errors);
  return { rules, comments, errors };
}

function parseRule(text: string, line: number, errors: string[]): UdevRule | undefined {
  const tokens: UdevToken[] = [];
  let rest = text;
  for (;;) {
    const match = TOKEN.exec(rest);
    const value = match ? (match[4] === 'e' ? ESCAPED_VALUE : PLAIN_VALUE).exec(rest.slice(match[0].length)) : null;
    if (!match || !value) {
      errors.push(`line ${line}: cannot parse ${JSON.stringify(rest)}`);
      return undefined;
    }
    const [head, key = '', attr, op = '', escaped] = match;
    const raw = value[1] ?? '';
    const token: UdevToken = { key, op: op as Operator, value: escaped === 'e' ? raw : raw.replaceAll('\\"', '"') };
    if (attr !== undefined) token.attr = attr;
    errors.push(...checkToken(token, line));
    tokens.push(token);
    rest = rest.slice(head.length + value[0].length);
    if (rest.trim() === '') break;
    const separator = /^\s*,\s*/.exec(rest);
    if (!separator) {
      errors.push(`line ${line}: expected "," before ${JSON.stringify(rest)}`);
      return undefined;
    }
    rest = rest.slice(separator[0].length);
  }
  return { line, tokens };
}

function checkToken(token: UdevToken, line: number): string[] {
  const where = `line ${line}: ${token.key}${token.attr !== undefined ? `{${token.attr}}` : ''}`;
  const spec = KEYS[token.key];
  if (!spec) return [`${where}: unknown key`];
  const errors: string[] = [];
  if (!spec.ops.includes(token.op))
    errors.push(`${where}: operator ${token.op} not allowed (allowed: ${spec.ops.join(' ')})`);
  if (spec.attr === 'none' && token.attr !== undefined) errors.push(`${where}: takes no {attribute}`);
  if (spec.attr === 'required' && (token.attr === undefined || token.attr === ''))
    errors.push(`${where}: needs an {attribute}`);
  if (Array.isArray(spec.attr) && !spec.attr.includes(token.attr ?? ''))
    errors.push(`${where}: attribute must be one of ${spec.attr.join(', ')}`);
  if (token.key === 'IMPORT' && token.attr === 'builtin' && !BUILTINS.has(token.value.split(' ')[0] ?? ''))
    errors.push(`${where}: unknown builtin ${token.value}`);
  if (token.key === 'MODE' && !/^[0-7]{3,4}$/.test(token.value))
    errors.push(`${where}: mode must be octal, got ${JSON.stringify(token.value)}`);
  if ((token.key === 'OWNER' || token.key === 'GROUP') && !/^[a-z_][a-z0-9_-]*$/.test(token.value))
    errors.push(`${where}: not a user or group name`);
  if ((token.key === 'GOTO' || token.key === 'LABEL') && token.value === '') errors.push(`${where}: empty label`);
  if (token.key === 'TAG' && token.value === '') errors.push(`${where}: empty tag`);
  return errors;
}

/** udev only jumps forward, to a LABEL in the same file; a missing one is an error. */
function checkGotos(rules: readonly UdevRule[], errors: string[]): void {
  const labels = new Map<string, number>();
  rules.forEach((rule, index) => {
    for (const token of rule.tokens) {
      if (token.key !== 'LABEL') continue;
      if (labels.has(token.value)) errors.push(`line ${rule.line}: LABEL ${JSON.stringify(token.value)} defined twice`);
      labels.set(token.value, index);
    }
  });
  rules.forEach((rule, index) => {
    for (const token of rule.tokens) {
      if (token.key !== 'GOTO') continue;
      const target = labels.get(token.value);
      if (target === undefined || target <= index)
        errors.push(`line ${rule.line}: GOTO ${JSON.stringify(token.value)} has no LABEL after it`);
    }
  });
}

/** The tokens of a rule as `KEY{attr}OPvalue` strings, for compact assertions. */
export function tokenStrings(rule: UdevRule): string[] {
  return rule.tokens.map((t) => `${t.key}${t.attr !== undefined ? `{${t.attr}}` : ''}${t.op}"${t.value}"`);
}
