// Running check programs: timeouts kill the whole process group, output is
// bounded, and a program that cannot start is reported, not thrown.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { lastLines, runProcess } from '../src/platform/run-process.js';
import { tempDir } from './helpers/temp-dir.js';

/** Running, as opposed to gone or a zombie waiting for a reaper this container may not have. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

describe('runProcess', () => {
  it('kills the grandchildren of a program that times out', async (t) => {
    const dir = tempDir(t);
    const pidFile = join(dir, 'grandchild.pid');
    const result = await runProcess(['sh', '-c', `sleep 30 & echo $! > ${pidFile}; wait`], { timeoutMs: 300 });
    assert.equal(result.timedOut, true);
    assert.equal(result.code, null);
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(alive(grandchild), false, 'the backgrounded sleep must be gone');
  });

  it('stops when its signal aborts', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = performance.now();
    const result = await runProcess(['sleep', '30'], { timeoutMs: 10_000, signal: controller.signal });
    assert.equal(result.aborted, true);
    assert.ok(performance.now() - started < 2_000);
  });

  it('keeps only the tail of a flood of output', async () => {
    const result = await runProcess(['sh', '-c', 'yes line | head -n 200000; echo LAST'], { timeoutMs: 10_000, keepBytes: 1024 });
    assert.equal(result.code, 0);
    assert.ok(result.output.length <= 1024);
    assert.equal(lastLines(result.output, 1), 'LAST');
  });

  it('reports a program that does not exist', async () => {
    const result = await runProcess(['/nonexistent/humility'], { timeoutMs: 1_000 });
    assert.equal(result.spawnError?.code, 'ENOENT');
  });
});
