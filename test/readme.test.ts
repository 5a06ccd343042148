// Keeps README.md honest: the configuration reference documents every key the
// schema accepts and no key it would reject, and the quick start stays the two
// commands it promises, backed by real package.json scripts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { configSchema } from '../src/config/schema.js';
import { allKeyPaths } from '../src/config/schema-keys.js';

const root = new URL('..', import.meta.url);
const readme = readFileSync(new URL('README.md', root), 'utf8');
const schemaPaths = allKeyPaths(configSchema);

interface Fence {
  info: string;
  body: string;
}

/** `## ` sections by heading; headings inside fenced code blocks do not count. */
function sections(markdown: string): Map<string, string> {
  const out = new Map<string, string>();
  let heading: string | undefined;
  let lines: string[] = [];
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) inFence = !inFence;
    if (!inFence && line.startsWith('## ')) {
      if (heading !== undefined) out.set(heading, lines.join('\n'));
      heading = line.slice(3).trim();
      lines = [];
    } else {
      lines.push(line);
    }
  }
  if (heading !== undefined) out.set(heading, lines.join('\n'));
  return out;
}

function section(title: string): string {
  const body = sections(readme).get(title);
  assert.ok(body !== undefined, `README.md has no "## ${title}" section`);
  return body;
}

function fences(markdown: string): Fence[] {
  return [...markdown.matchAll(/^\s*```([^\n]*)\n([\s\S]*?)^\s*```\s*$/gm)].map((m) => ({
    info: (m[1] ?? '').trim(),
    body: (m[2] ?? '').trim(),
  }));
}

/** Text outside fenced code blocks, so examples of error output are not mistaken for documentation. */
function prose(markdown: string): string {
  return markdown.replace(/^\s*```[^\n]*\n[\s\S]*?^\s*```\s*$/gm, '');
}

function backticked(text: string): string[] {
  return [...text.matchAll(/`([^`\n]+)`/g)].map((m) => m[1] ?? '');
}

/** The backticked key paths in the first column of the section's tables. */
function tableKeyCells(markdown: string): string[] {
  return prose(markdown)
    .split('\n')
    .filter((line) => line.startsWith('|') && !/^\|\s*-/.test(line))
    .flatMap((line) => backticked(line.split('|')[1] ?? ''));
}

const CONFIG_KEY = /^(?:agent|auth|health|jobs|devices|slots)\.[A-Za-z0-9_<>.[\]-]+$/;
/** `slots.example.toml` starts like a key path but names a file. */
const FILE_NAME = /\.(?:toml|json|ts|js|db)$/;

function looksLikeKeyPath(text: string): boolean {
  return CONFIG_KEY.test(text) && !FILE_NAME.test(text);
}

/** `slots.gimlet-1.devices[2]` → `slots.<name>.devices`: examples are checked against the schema too. */
function normalizeKeyPath(path: string): string {
  const parts = path.replace(/\[\d+\]/g, '').split('.');
  if ((parts[0] === 'devices' || parts[0] === 'slots') && parts.length > 1) parts[1] = '<name>';
  return parts.join('.');
}

describe('README.md configuration reference', () => {
  const reference = section('Configuration reference');

  it('documents every key the schema accepts in a table, with the key path as schema-keys prints it', () => {
    assert.ok(
      schemaPaths.length > 50,
      `allKeyPaths found only ${schemaPaths.length} keys; is the schema walker broken?`,
    );
    const documented = new Set(tableKeyCells(reference));
    const missing = schemaPaths.filter((p) => !documented.has(p));
    assert.deepEqual(
      missing,
      [],
      `undocumented config keys (add a table row with the key in backticks):\n  ${missing.join('\n  ')}`,
    );
    // The first check implies this one; it is the promise the README makes to readers.
    const anywhere = new Set(backticked(readme));
    assert.deepEqual(
      schemaPaths.filter((p) => !anywhere.has(p)),
      [],
    );
  });

  it('documents no key the schema would reject', () => {
    const known = new Set(schemaPaths);
    const mentioned = backticked(prose(reference)).filter(looksLikeKeyPath);
    assert.ok(mentioned.length > 0, 'found no key paths in the configuration reference');
    const unknown = [...new Set(mentioned.filter((p) => !known.has(normalizeKeyPath(p))))];
    assert.deepEqual(unknown, [], `the README documents keys the schema does not accept:\n  ${unknown.join('\n  ')}`);
  });

  it('lists each key in one table row only', () => {
    const cells = tableKeyCells(reference).filter((text) => looksLikeKeyPath(text) || schemaPaths.includes(text));
    const twice = cells.filter((cell, index) => cells.indexOf(cell) !== index);
    assert.deepEqual(twice, [], `keys documented in more than one row: ${twice.join(', ')}`);
  });
});

describe('README.md quick start', () => {
  const packageJson = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
    scripts?: Record<string, string>;
  };
  const scripts = packageJson.scripts ?? {};

  it('is exactly two commands: npm ci && npm start, and sudo npm run test:all', () => {
    const blocks = fences(section('Quick start'));
    assert.deepEqual(
      blocks.map((b) => b.body),
      ['npm ci && npm start', 'sudo npm run test:all'],
    );
  });

  it('is backed by start and test scripts in package.json', () => {
    assert.equal(typeof scripts['start'], 'string', 'package.json has no "start" script');
    assert.equal(typeof scripts['test'], 'string', 'package.json has no "test" script');
    assert.equal(typeof scripts['test:all'], 'string', 'package.json has no "test:all" script');
  });

  it('runs, as test:all, what CI runs: .ci/run calls it, and it installs the packages and runs the suite with CI=true', () => {
    assert.match(readFileSync(new URL('.ci/run', root), 'utf8'), /^npm run test:all$/m);
    const testAll = readFileSync(new URL(scripts['test:all']?.replace(/^bash /, '') ?? 'missing', root), 'utf8');
    assert.match(testAll, /^bash scripts\/install-test-packages\.sh$/m);
    assert.match(testAll, /^npm ci\b/m);
    assert.match(testAll, /^CI=true npm test$/m);
    assert.match(readFileSync(new URL('scripts/install-test-packages.sh', root), 'utf8'), /^apt-get update/m);
  });

  it('starts the agent on slots.example.toml with its state in .labslot', () => {
    const start = scripts['start'] ?? '';
    assert.match(start, /slots\.example\.toml/);
    assert.match(start, /(^|[\s=/])\.labslot(\s|$|\/)/);
  });
});
