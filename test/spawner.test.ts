// What only the native spawner (libexec/labslot-spawner.c) can get wrong, as
// the agent would meet it: it dies, is stopped, stops answering, is sent a
// terminal's Ctrl-C, cannot be started for want of file descriptors, or a
// program leaves a writer behind that never stops. The contract it shares with
// Node's spawn is in run-process.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { runProcessWith } from '../src/platform/run-process.js';
import { SPAWNER_PATH, SpawnerStarter } from '../src/platform/spawner-client.js';
import { eventually } from './helpers/eventually.js';
import { type Prerequisite, requires } from './helpers/prerequisites.js';
import { tempDir } from './helpers/temp-dir.js';
import { C_COMPILER, EPERM, syscallErrno, syscallNumber } from './helpers/syscall-errno.js';

/** Real-time scheduling for the spawner's programs: root with CAP_SYS_NICE, and no filter refusing it. */
const REALTIME_ALLOWED: Prerequisite = {
  what: 'real-time scheduling (root with CAP_SYS_NICE: chrt -f 1 true)',
  met: () => spawnSync('chrt', ['-f', '1', 'true']).status === 0,
};

const BUILT: Prerequisite = {
  what: `the native spawner ${SPAWNER_PATH} (npm run build, with a C compiler)`,
  met: () => existsSync(SPAWNER_PATH),
};

/** A spawner of the test's own, stopped when the test ends. */
function ownSpawner(t: TestContext): SpawnerStarter {
  const own = new SpawnerStarter(SPAWNER_PATH);
  t.after(() => own.stop());
  return own;
}

/** Runs `sleep 30` through `own`, its pid written to a file; the test kills it when it ends, whatever happened. */
function sleeper(t: TestContext, own: SpawnerStarter, timeoutMs = 60_000) {
  const pidFile = join(tempDir(t), 'sleep.pid');
  t.after(() => {
    if (existsSync(pidFile)) spawnSync('kill', ['-KILL', readFileSync(pidFile, 'utf8').trim()]);
  });
  const running = runProcessWith(own, ['sh', '-c', `echo $$ > ${pidFile}; exec sleep 30`], { timeoutMs });
  return { running, started: eventually(() => existsSync(pidFile) && own.pid !== undefined) };
}

/** A program that prints the scheduling policy and real-time priority it runs with (/proc/PID/stat fields 41 and 40). */
const SCHEDULING = ['sh', '-c', 'set -- $(cut -d" " -f40,41 /proc/$$/stat); echo "policy $2 priority $1"'];
const REALTIME = 'policy 1 priority 1\n'; // SCHED_FIFO 1
const NORMAL = 'policy 0 priority 0\n'; // SCHED_OTHER

function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

describe('the native spawner', () => {
  it('reports what it was running as failed when it dies, and the next program starts a new one', async (t) => {
    if (!requires(t, BUILT)) return;
    const own = ownSpawner(t);
    const { running, started } = sleeper(t, own);
    await started;
    const pid = own.pid ?? 0;
    process.kill(pid, 'SIGKILL');
    const result = await running;
    assert.ok(result.spawnError, 'the sleep is reported, not left waiting');
    assert.equal(result.spawnError.code, 'ESPAWNER');
    assert.match(result.spawnError.message, /labslot-spawner exited \(SIGKILL\); sh may still be running/);
    const after = await runProcessWith(own, ['echo', 'again'], { timeoutMs: 10_000 });
    assert.deepEqual([after.code, after.output], [0, 'again\n']);
    assert.notEqual(own.pid, pid);
  });

  it('reports what it was running when it is stopped', async (t) => {
    if (!requires(t, BUILT)) return;
    const own = ownSpawner(t);
    const { running, started } = sleeper(t, own);
    await started;
    const pid = own.pid ?? 0;
    own.stop();
    const result = await running;
    assert.match(result.spawnError?.message ?? '', /labslot-spawner was stopped/);
    await eventually(() => !alive(pid), { message: 'the spawner to exit at the end of its input' });
  });

  it('is killed when it stops answering, so a timeout still ends the run', async (t) => {
    if (!requires(t, BUILT)) return;
    const own = ownSpawner(t);
    const { running, started } = sleeper(t, own, 500);
    await started;
    const pid = own.pid ?? 0;
    process.kill(pid, 'SIGSTOP');
    const result = await running;
    assert.equal(result.timedOut, true);
    assert.match(result.spawnError?.message ?? '', /did not report sh killed within 5000 ms/);
    await eventually(() => !alive(pid), { message: 'the stuck spawner to be killed' });
  });

  it("ignores a terminal's Ctrl-C: the agent decides when it ends", async (t) => {
    if (!requires(t, BUILT)) return;
    const own = ownSpawner(t);
    assert.equal((await runProcessWith(own, ['true'], { timeoutMs: 10_000 })).code, 0);
    const pid = own.pid ?? 0;
    for (const signal of ['SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGTSTP'] as const) process.kill(pid, signal);
    const after = await runProcessWith(own, ['echo', 'still here'], { timeoutMs: 10_000 });
    assert.deepEqual([after.code, after.output, own.pid], [0, 'still here\n', pid]);
  });

  it('keeps answering when a program leaves behind a writer that never stops', async (t) => {
    if (!requires(t, BUILT)) return;
    const own = ownSpawner(t);
    const pidFile = join(tempDir(t), 'yes.pid');
    // setsid: out of the program's group, so the kill at its exit misses it; it holds the output pipe.
    const result = await runProcessWith(own, ['sh', '-c', `setsid yes & echo $! > ${pidFile}; echo started`], {
      timeoutMs: 30_000,
    });
    assert.equal(result.code, 0);
    const yes = Number(readFileSync(pidFile, 'utf8'));
    t.after(() => spawnSync('kill', ['-KILL', String(yes)]));
    const after = await runProcessWith(own, ['echo', 'next'], { timeoutMs: 10_000 });
    assert.deepEqual([after.code, after.output], [0, 'next\n']);
    // Its pipe closed, the writer's next write ends it (SIGPIPE).
    await eventually(() => !alive(yes), { message: 'the writer left behind to die of SIGPIPE' });
  });

  it('reports a spawner it cannot start for want of file descriptors, and starts one once they are back', (t) => {
    if (!requires(t, BUILT)) return;
    const module = (name: string): string => JSON.stringify(new URL(`../src/platform/${name}`, import.meta.url).href);
    const script = `
      import { closeSync, openSync } from 'node:fs';
      const { SpawnerStarter } = await import(${module('spawner-client.ts')});
      const { runProcessWith } = await import(${module('run-process.ts')});
      process.on('uncaughtException', (error) => { console.log(JSON.stringify({ uncaught: error.message })); process.exit(3); });
      const own = new SpawnerStarter(${JSON.stringify(SPAWNER_PATH)});
      const taken = [];
      try { for (;;) taken.push(openSync('/dev/null', 'r')); } catch {}
      const starved = await runProcessWith(own, ['true'], { timeoutMs: 5000 });
      for (const fd of taken.splice(0, 20)) closeSync(fd);
      const after = await runProcessWith(own, ['echo', 'ok'], { timeoutMs: 5000 });
      console.log(JSON.stringify({ starved: starved.spawnError?.code, after: after.output, usable: own.usable }));
      own.stop();
    `;
    const child = spawnSync(
      'prlimit',
      ['--nofile=64', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(child.status, 0, `the process survived: ${child.stdout}${child.stderr}`);
    const report = JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    assert.deepEqual(report, { starved: 'EMFILE', after: 'ok\n', usable: true });
  });

  it('runs a program that holds a host-wide lock at real-time priority, and no other', async (t) => {
    if (!requires(t, BUILT, REALTIME_ALLOWED)) return;
    const own = ownSpawner(t);
    const locking = await runProcessWith(own, SCHEDULING, { timeoutMs: 10_000, holdsHostLock: true });
    assert.deepEqual([locking.code, locking.output], [0, REALTIME]);
    const other = await runProcessWith(own, SCHEDULING, { timeoutMs: 10_000 });
    assert.deepEqual([other.code, other.output], [0, NORMAL], 'only the program that asked');
  });

  it('runs it at normal priority where the host refuses real-time, as it runs every other', async (t) => {
    if (!requires(t, BUILT, C_COMPILER)) return;
    // The spawner itself under a filter that refuses sched_setscheduler, as a cgroup without a real-time budget would.
    const refusing = join(tempDir(t), 'refusing-spawner');
    const prefix = syscallErrno(t)(syscallNumber('sched_setscheduler'), EPERM);
    const quoted = [...prefix, SPAWNER_PATH].map((word) => `'${word.replaceAll("'", "'\\''")}'`);
    writeFileSync(refusing, `#!/bin/sh\nexec ${quoted.join(' ')} "$@"\n`);
    chmodSync(refusing, 0o755);
    const own = new SpawnerStarter(refusing);
    t.after(() => own.stop());
    for (const attempt of ['first', 'second']) {
      const result = await runProcessWith(own, SCHEDULING, { timeoutMs: 10_000, holdsHostLock: true });
      assert.deepEqual([result.code, result.output], [0, NORMAL], `the ${attempt} program runs`);
    }
  });
});
