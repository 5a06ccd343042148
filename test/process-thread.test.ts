// The agent's process thread (src/platform/process-thread.ts), as the built
// agent runs it (its worker module exists only in dist/): a program started
// from it gives the same result runProcess gives on the main thread, output,
// exit, a spawn error's code, a timeout and an abort included.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type * as ProcessThreadModule from '../src/platform/process-thread.js';
import type { ProcessThread as Thread } from '../src/platform/process-thread.js';
import { runProcessHere } from '../src/platform/run-process.js';

const BUILT = fileURLToPath(new URL('../dist/platform/process-thread.js', import.meta.url));

describe('process thread', () => {
  let thread: Thread | undefined;
  before(async () => {
    const built = (await import(BUILT)) as typeof ProcessThreadModule;
    thread = built.ProcessThread.start();
  });
  after(() => thread?.stop());

  const started = (): Thread => {
    assert.ok(thread, 'the build has a process thread (npm run build)');
    return thread;
  };

  it('runs a program with its environment and gives its output and exit code', async () => {
    const result = await started().run(['/bin/sh', '-c', 'echo "out $GREETING"; echo err >&2; exit 3'], {
      timeoutMs: 10_000,
      env: { GREETING: 'hello', PATH: '/usr/bin:/bin' },
    });
    assert.equal(result.code, 3);
    assert.match(result.output, /out hello/);
    assert.match(result.output, /err/);
    assert.equal(result.timedOut, false);
    assert.equal(started().broken, undefined);
  });

  it('keeps a spawn error’s code, as on the main thread', async () => {
    const options = { timeoutMs: 10_000 };
    const fromThread = await started().run(['/nonexistent/program'], options);
    const here = await runProcessHere(['/nonexistent/program'], options);
    assert.equal(fromThread.spawnError?.code, 'ENOENT');
    assert.equal(fromThread.spawnError.code, here.spawnError?.code);
    assert.equal(fromThread.spawnError.message, here.spawnError?.message);
  });

  it('ends a program at its timeout, and on an abort, saying which', async () => {
    const timedOut = await started().run(['sleep', '30'], { timeoutMs: 100 });
    assert.deepEqual([timedOut.timedOut, timedOut.aborted, timedOut.signal], [true, false, 'SIGKILL']);
    const controller = new AbortController();
    const running = started().run(['sleep', '30'], { timeoutMs: 10_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const aborted = await running;
    assert.deepEqual([aborted.timedOut, aborted.aborted], [false, true]);
    const deadline = await started().run(['sleep', '30'], { timeoutMs: 10_000, signal: AbortSignal.timeout(50) });
    assert.equal(deadline.timedOut, true, 'a deadline given as AbortSignal.timeout is a timeout');
  });
});
