// A fresh directory per test, removed afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lifo, type Cleanup } from './cleanup.js';

export function tempDir(t: Cleanup, prefix = 'labslot-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  // Last of all: what runs in it (an agent, its workers) is stopped first.
  lifo(t).after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
