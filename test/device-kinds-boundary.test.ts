// Per-kind knowledge lives in src/devices/kinds/ and nowhere else (issue 13):
// no comparison with a device kind's name, no `case` on one, no switch on a
// spec's kind outside it. config/schema.ts defines the kinds' union and is the
// one other place their names appear.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { deviceKinds } from '../src/devices/kinds/registry.js';
import { PROJECT_ROOT } from './helpers/cli.js';

const SRC = join(PROJECT_ROOT, 'src');
const ALLOWED = new Set(['src/config/schema.ts']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return path === join(SRC, 'devices', 'kinds') ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
}

const names = Object.keys(deviceKinds).map(escape).join('|');
const KIND_SWITCHES = [
  // spec.kind === 'usb', kind !== "serial", raw['kind'] === 'power'
  new RegExp(`kind['"]?\\]?\\s*[!=]==?\\s*['"](?:${names})['"]`),
  // 'usb' === spec.kind
  new RegExp(`['"](?:${names})['"]\\s*[!=]==?\\s*[\\w.?\\[\\]'"]*kind\\b`),
  // case 'ipv6':
  new RegExp(`\\bcase\\s+['"](?:${names})['"]\\s*:`),
  // switch (spec.kind), switch (device.spec.kind)
  /\bswitch\s*\([^)]*\bspec\??\.kind\s*\)/,
];

/** file:line of every line outside kinds/ that decides by a device's kind. */
function kindSwitches(): string[] {
  const hits: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const path = relative(PROJECT_ROOT, file);
    if (ALLOWED.has(path)) continue;
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, index) => {
        if (KIND_SWITCHES.some((pattern) => pattern.test(line))) hits.push(`${path}:${index + 1}: ${line.trim()}`);
      });
  }
  return hits;
}

describe('device kinds stay in src/devices/kinds/', () => {
  it('no code outside kinds/ switches on a device kind', () => {
    assert.deepEqual(kindSwitches(), [], 'move this per-kind knowledge into the kind modules');
  });

  it('the scan finds the kinds it looks for', () => {
    // What the patterns must catch, so that an empty result above means something.
    const samples = [
      "if (spec.kind === 'usb') {",
      "    case 'console-server':",
      "spec['kind'] !== 'command'",
      'switch (device.spec.kind) {',
      "'ipv6' === d.spec.kind",
    ];
    for (const sample of samples)
      assert.ok(
        KIND_SWITCHES.some((pattern) => pattern.test(sample)),
        sample,
      );
    assert.ok(
      !KIND_SWITCHES.some((pattern) => pattern.test("if (layout.kind === 'v2') {")),
      'unrelated kinds are not device kinds',
    );
  });
});
