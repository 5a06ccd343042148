// Running check programs: timeouts kill the whole process group, output is
// bounded, and a program that cannot start is reported, not thrown.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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
  it('reports a spawn that fails for want of file descriptors (EMFILE) as a result, never an exception', () => {
    // A process whose every descriptor is taken, as a client holding thousands of connections leaves the agent.
    const module = new URL('../src/platform/run-process.ts', import.meta.url).href;
    const script = `
      import { openSync } from 'node:fs';
      const { runProcess } = await import(${JSON.stringify(module)});
      process.on('uncaughtException', (error) => { console.log(JSON.stringify({ uncaught: error.message })); process.exit(3); });
      let taken = 0;
      try { for (;;) { openSync('/dev/null', 'r'); taken += 1; } } catch {}
      const result = await runProcess(['true'], { timeoutMs: 5000 }).catch((error) => ({ threw: error.message }));
      console.log(JSON.stringify({ taken, code: result.code, threw: result.threw, spawnError: result.spawnError?.code }));
      // A tick later, an 'error' nobody listened to would still arrive.
      await new Promise((resolve) => setTimeout(resolve, 100));
    `;
    const child = spawnSync(
      'prlimit',
      ['--nofile=64', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(child.status, 0, `the process survived: ${child.stdout}${child.stderr}`);
    const report = JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '{}') as {
      taken: number;
      code: unknown;
      threw?: string;
      spawnError?: string;
    };
    assert.ok(report.taken > 0, 'the descriptors were exhausted first');
    assert.equal(report.threw, undefined, 'runProcess did not throw');
    assert.equal(report.spawnError, 'EMFILE');
    assert.equal(report.code, null);
  });

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
    const result = await runProcess(['sleep', '30'], { timeoutMs: 10_000, signal: controller.signal });
    assert.equal(result.aborted, true);
    // Killed on the abort: not left to its 10 s timeout, nor to finish its 30 s.
    assert.deepEqual([result.timedOut, result.code, result.signal], [false, null, 'SIGKILL']);
  });

  it('keeps only the tail of a flood of output', async () => {
    const result = await runProcess(['sh', '-c', 'yes line | head -n 200000; echo LAST'], {
      timeoutMs: 10_000,
      keepBytes: 1024,
    });
    assert.equal(result.code, 0);
    assert.ok(result.output.length <= 1024);
    assert.equal(lastLines(result.output, 1), 'LAST');
  });

  it('reports a program that does not exist', async () => {
    const result = await runProcess(['/nonexistent/humility'], { timeoutMs: 1_000 });
    assert.equal(result.spawnError?.code, 'ENOENT');
  });
});
