// Running check programs: timeouts kill the whole process group, output is
// bounded, and a program that cannot start is reported, not thrown.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { directStarter } from '../src/platform/direct-starter.js';
import { processStarter, type ProcessStarter } from '../src/platform/process-starter.js';
import { lastLines, runProcessWith, type RunOptions } from '../src/platform/run-process.js';
import { SPAWNER_PATH, SpawnerStarter } from '../src/platform/spawner-client.js';
import { eventually } from './helpers/eventually.js';
import { type Prerequisite, requires } from './helpers/prerequisites.js';
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

  it('starts programs through the native spawner where the build compiled it', (t) => {
    if (!requires(t, BUILT)) return;
    assert.equal(processStarter().kind, 'spawner');
  });
});

const BUILT: Prerequisite = {
  what: `the native spawner ${SPAWNER_PATH} (npm run build, with a C compiler)`,
  met: () => existsSync(SPAWNER_PATH),
};

// One contract, two ways of starting a program (process-starter.ts).
const STARTERS: { name: string; starter: () => ProcessStarter; needs: Prerequisite[] }[] = [
  { name: 'the native spawner', starter: () => spawner, needs: [BUILT] },
  { name: "Node's spawn", starter: () => directStarter, needs: [] },
];
const spawner = new SpawnerStarter(SPAWNER_PATH);

for (const { name, starter, needs } of STARTERS) {
  describe(`runProcess through ${name}`, () => {
    const run = (argv: readonly string[], options: RunOptions) => runProcessWith(starter(), argv, options);
    const ready = (t: TestContext): boolean => requires(t, ...needs);

    it('kills the grandchildren of a program that times out', async (t) => {
      if (!ready(t)) return;
      const dir = tempDir(t);
      const pidFile = join(dir, 'grandchild.pid');
      const result = await run(['sh', '-c', `sleep 30 & echo $! > ${pidFile}; wait`], { timeoutMs: 300 });
      assert.equal(result.timedOut, true);
      assert.equal(result.code, null);
      const grandchild = Number(readFileSync(pidFile, 'utf8'));
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(alive(grandchild), false, 'the backgrounded sleep must be gone');
    });

    it('stops when its signal aborts', async (t) => {
      if (!ready(t)) return;
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const result = await run(['sleep', '30'], { timeoutMs: 10_000, signal: controller.signal });
      assert.equal(result.aborted, true);
      // Killed on the abort: not left to its 10 s timeout, nor to finish its 30 s.
      assert.deepEqual([result.timedOut, result.code, result.signal], [false, null, 'SIGKILL']);
    });

    it('keeps only the tail of a flood of output', async (t) => {
      if (!ready(t)) return;
      const result = await run(['sh', '-c', 'yes line | head -n 200000; echo LAST'], {
        timeoutMs: 10_000,
        keepBytes: 1024,
      });
      assert.equal(result.code, 0);
      assert.ok(result.output.length <= 1024);
      assert.equal(lastLines(result.output, 1), 'LAST');
    });

    it('reports a program that does not exist', async (t) => {
      if (!ready(t)) return;
      const result = await run(['/nonexistent/humility'], { timeoutMs: 1_000 });
      assert.equal(result.spawnError?.code, 'ENOENT');
    });

    it('reports the exit code and what the program wrote to both output streams', async (t) => {
      if (!ready(t)) return;
      const result = await run(['sh', '-c', 'echo one; echo two >&2; echo three; exit 7'], { timeoutMs: 10_000 });
      // Node's spawn reads the two pipes separately, so only the spawner's single pipe keeps their order.
      const lines = result.output.split('\n').filter(Boolean).sort();
      assert.deepEqual([result.code, result.signal, lines], [7, null, ['one', 'three', 'two']]);
    });

    it('reports the signal that ended a program', async (t) => {
      if (!ready(t)) return;
      const result = await run(['sh', '-c', 'kill -TERM $$'], { timeoutMs: 10_000 });
      assert.deepEqual([result.code, result.signal, result.timedOut], [null, 'SIGTERM', false]);
    });

    it("runs in the given directory with the given environment, found in that environment's PATH", async (t) => {
      if (!ready(t)) return;
      const dir = tempDir(t);
      const tool = join(dir, 'labslot-test-tool');
      writeFileSync(tool, '#!/bin/sh\necho "$GREETING from $(pwd)"\n', { mode: 0o755 });
      const result = await run(['labslot-test-tool'], {
        timeoutMs: 10_000,
        cwd: dir,
        env: { PATH: `/nonexistent:${dir}:/usr/bin:/bin`, GREETING: 'hello' },
      });
      assert.deepEqual([result.code, result.output], [0, `hello from ${dir}\n`]);
      const elsewhere = await run(['labslot-test-tool'], { timeoutMs: 10_000 });
      assert.equal(elsewhere.spawnError?.code, 'ENOENT', "not in the agent's own PATH");
    });

    it('reports a directory that does not exist, and a NUL byte in an argument, as results', async (t) => {
      if (!ready(t)) return;
      const noDir = await run(['true'], { timeoutMs: 10_000, cwd: '/nonexistent/labslot-dir' });
      assert.equal(noDir.spawnError?.code, 'ENOENT');
      const nul = await run(['echo', 'a\0b'], { timeoutMs: 10_000 });
      assert.ok(nul.spawnError !== undefined, 'refused, not thrown');
      assert.equal(nul.code, null);
    });

    it('ends with the program, killing what it left behind holding its output open', async (t) => {
      if (!ready(t)) return;
      const dir = tempDir(t);
      const pidFile = join(dir, 'left.pid');
      const result = await run(['sh', '-c', `sleep 60 & echo $! > ${pidFile}; echo done`], { timeoutMs: 60_000 });
      assert.deepEqual([result.code, result.output, result.timedOut], [0, 'done\n', false]);
      const left = Number(readFileSync(pidFile, 'utf8'));
      await eventually(() => assert.equal(alive(left), false, 'the sleep it left behind must be gone'));
    });

    it('keeps the output of many programs at once apart', async (t) => {
      if (!ready(t)) return;
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          run(['sh', '-c', `echo start ${i}; sleep 0.0${i % 10}; echo end ${i}`], { timeoutMs: 30_000 }),
        ),
      );
      results.forEach((result, i) => assert.deepEqual([result.code, result.output], [0, `start ${i}\nend ${i}\n`]));
    });
  });
}
