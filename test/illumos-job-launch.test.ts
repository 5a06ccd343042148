// The job's launch and exit on illumos: the launch script that gives the job
// exactly its argv and environment, the exit-status protocol through the SMF
// instance log, and following an instance through its states. The parts that
// are plain POSIX (the launch script, the start method, the output FIFO) run
// for real with the local sh; svcs is faked by an InstanceProbe.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type * as cmd from '../src/platform/illumos/commands.js';
import { watchInstance, type InstanceProbe } from '../src/platform/illumos/instance-watch.js';
import { OutputPipe } from '../src/platform/illumos/output-pipe.js';
import {
  exitFromRecords,
  LaunchError,
  launchScript,
  parseWorkerRecords,
  workerStartMethod,
} from '../src/platform/illumos/worker-method.js';
import { command, requires } from './helpers/prerequisites.js';
import { tempDir } from './helpers/temp-dir.js';
import { NASTY } from './helpers/illumos-values.js';

describe('job launch script', () => {
  it('gives the job exactly its argv and environment under sh, with nothing executed from the values', (t) => {
    const dir = tempDir(t);
    const env = Object.fromEntries(NASTY.map((v, i) => [`V${i}`, v]));
    const script = join(dir, 'launch.sh');
    const report = 'process.stdout.write(JSON.stringify({ argv: process.argv.slice(1), env: process.env }))';
    writeFileSync(script, launchScript(env, [process.execPath, '-e', report, '--', ...NASTY]));
    for (const shell of ['/bin/sh', '/bin/bash'].filter((s) => existsSync(s))) {
      const run = spawnSync(shell, [script], {
        cwd: dir,
        encoding: 'utf8',
        env: { PATH: '/usr/bin:/bin', LEAK: 'from the start method' },
      });
      assert.equal(run.status, 0, run.stderr);
      const seen = JSON.parse(run.stdout) as { argv: string[]; env: Record<string, string> };
      assert.deepEqual(seen.argv, NASTY, shell);
      assert.deepEqual(seen.env, env, `${shell}: env -i, nothing else`);
    }
    assert.equal(existsSync(join(dir, 'CANARY')), false, 'no command substitution ran');
  });

  it('refuses what cannot be an environment or an argument', () => {
    assert.throws(() => launchScript({ 'A=B': 'x' }, ['true']), LaunchError);
    assert.throws(() => launchScript({ A: 'x\0y' }, ['true']), LaunchError);
    assert.throws(() => launchScript({}, []), LaunchError);
  });
});

describe('exit status through the instance log', () => {
  const log = (...lines: string[]): string => lines.map((l) => `${l}\n`).join('');

  it('reads the start method records among svc.startd own lines, with illumos signal numbers', () => {
    const text = log(
      '[ Jan  5 12:00:00 Executing start method ("...") ]',
      'labslot-worker: started 4242',
      'labslot-worker: exited code 3',
      '[ Jan  5 12:00:09 Method "start" exited with status 0. ]',
    );
    assert.deepEqual(exitFromRecords(parseWorkerRecords(text)), { code: 3, signal: null });
    assert.deepEqual(
      exitFromRecords(parseWorkerRecords(log('labslot-worker: started 1', 'labslot-worker: exited signal 15'))),
      { code: null, signal: 'SIGTERM' },
    );
    assert.equal(
      exitFromRecords(parseWorkerRecords(log('labslot-worker: started 1', 'labslot-worker: exited signal 16')))?.signal,
      'SIGUSR1',
    );
    assert.equal(
      exitFromRecords(parseWorkerRecords(log('labslot-worker: started 1', 'labslot-worker: exited signal 38')))?.signal,
      'SIGXRES',
    );
    assert.equal(
      exitFromRecords(parseWorkerRecords('labslot-worker: started 1\nlabslot-worker: exited co')),
      undefined,
      'a half-written line waits',
    );
  });

  it('tells a job that never started from one whose status was lost', () => {
    assert.match(
      exitFromRecords(parseWorkerRecords(log('labslot-worker: not started: cannot open /w/output.fifo')))?.spawnError ??
        '',
      /cannot open/,
    );
    assert.equal(exitFromRecords([], undefined), undefined, 'still running');
    assert.match(exitFromRecords([], 'maintenance')?.spawnError ?? '', /maintenance without starting the job/);
    const retried = parseWorkerRecords(
      log('labslot-worker: started 7', 'labslot-worker: not started: the start method ran again'),
    );
    assert.deepEqual(exitFromRecords(retried, 'maintenance'), { code: null, signal: null });
  });

  it('runs the start method for real: job in its own session, without the log descriptor, output through the FIFO, exit 0 whatever the job did', async (t) => {
    if (!requires(t, command('setsid', ['--version']))) return;
    const root = tempDir(t);
    const method = join(root, 'start');
    writeFileSync(method, workerStartMethod());
    const probe =
      'read -r _ _ _ _ _ sid _ < /proc/$$/stat; echo "sid=$sid pid=$$"; if [ -e /proc/$$/fd/3 ]; then echo fd3=open; else echo fd3=closed; fi; echo to-stderr >&2; exit 3';
    writeFileSync(join(root, 'launch.sh'), launchScript({ A: '1' }, ['/bin/sh', '-c', probe]));
    const outputFile = join(root, 'output.log');
    writeFileSync(outputFile, 'earlier output\n');
    const pipe = await OutputPipe.open(join(root, 'output.fifo'), outputFile);
    t.after(() => pipe.close());
    const logFile = join(root, 'instance.log');
    const logFd = openSync(logFile, 'a');
    const child = spawn('/bin/sh', [method, root], { stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
    assert.equal(code, 0, 'the start method exits 0 although the job exited 3');
    pipe.releaseWriter();
    assert.equal(await pipe.drained(5_000), true);
    const records = parseWorkerRecords(readFileSync(logFile, 'utf8'));
    assert.deepEqual(exitFromRecords(records), { code: 3, signal: null });
    const started = records.find((r) => r.kind === 'started');
    const output = readFileSync(outputFile, 'utf8');
    assert.match(output, /^earlier output\n/);
    assert.match(
      output,
      new RegExp(`sid=${started?.kind === 'started' ? started.pid : -1} pid=`),
      'the job leads its own session',
    );
    assert.match(output, /fd3=closed/);
    assert.match(output, /to-stderr/);
  });

  it('reports a start method that cannot open the FIFO, and still exits 0', (t) => {
    const root = tempDir(t);
    const method = join(root, 'start');
    writeFileSync(method, workerStartMethod());
    mkdirSync(join(root, 'output.fifo'));
    const run = spawnSync('/bin/sh', [method, root], { encoding: 'utf8' });
    assert.equal(run.status, 0);
    assert.match(exitFromRecords(parseWorkerRecords(run.stdout))?.spawnError ?? '', /cannot open/);
  });

  it('refuses to start the job twice when svc.startd retries the start method', () => {
    const text = workerStartMethod();
    assert.match(text, /svcprop -q -p restarter\/start_method_waitstatus "\$SMF_FMRI"/);
    assert.match(text, /exit 95/, 'SMF_EXIT_ERR_FATAL: maintenance, no further retry');
    assert.match(text, /\/usr\/bin\/setpgrp/);
    assert.match(text, /3>&- &/);
  });
});

describe('following an instance', () => {
  function fakeProbe(
    steps: { log?: string; state?: cmd.SvcsState | undefined; fail?: boolean }[],
  ): InstanceProbe & { log: string } {
    let step = 0;
    const probe = {
      log: '',
      readLog: (offset: number) => {
        const current = steps[Math.min(step, steps.length - 1)];
        if (current?.log !== undefined) probe.log = current.log;
        return Promise.resolve(Buffer.from(probe.log).subarray(offset));
      },
      state: () => {
        const current = steps[Math.min(step, steps.length - 1)];
        step += 1;
        return current?.fail === true
          ? Promise.reject(new Error('svcs: repository busy'))
          : Promise.resolve(current?.state);
      },
    };
    return probe;
  }
  const options = { logOffset: 0, pollMs: 2, stateEvery: 1, startTimeoutMs: 5_000, maxFailures: 3 };

  it('waits out the enable, reports the start, then the exit', async () => {
    const probe = fakeProbe([
      { state: { state: 'disabled', next: '-' } },
      { state: { state: 'offline', next: 'online' }, log: 'labslot-worker: started 42\nlabslot-worker: exi' },
      { state: { state: 'offline', next: 'online' }, fail: true },
      { state: { state: 'online', next: '-' }, log: 'labslot-worker: started 42\nlabslot-worker: exited code 0\n' },
    ]);
    const watch = watchInstance(probe, options, new AbortController().signal);
    assert.deepEqual(await watch.started, { kind: 'started', pid: 42 });
    assert.deepEqual(await watch.exited, { code: 0, signal: null });
  });

  it('ends a job whose instance went to maintenance without a word, and gives up on a lost instance', async () => {
    const failed = watchInstance(
      fakeProbe([{ state: { state: 'offline', next: 'online' } }, { state: { state: 'maintenance', next: '-' } }]),
      options,
      new AbortController().signal,
    );
    assert.match((await failed.exited).spawnError ?? '', /maintenance/);
    assert.equal((await failed.started).kind, 'ended');
    const lost = watchInstance(fakeProbe([{ fail: true }]), options, new AbortController().signal);
    assert.match((await lost.exited).spawnError ?? '', /repository busy/);
  });

  it('gives up on a start that never comes, so startJob can fail instead of hanging', async () => {
    const controller = new AbortController();
    const watch = watchInstance(
      fakeProbe([{ state: { state: 'offline', next: 'online' } }]),
      { ...options, startTimeoutMs: 20 },
      controller.signal,
    );
    assert.deepEqual(await watch.started, { kind: 'timeout' });
    controller.abort();
    assert.deepEqual(await watch.exited, { code: null, signal: null });
  });

  it('stops following when the worker is released', async () => {
    const controller = new AbortController();
    const watch = watchInstance(
      fakeProbe([{ state: { state: 'offline', next: 'online' }, log: 'labslot-worker: started 5\n' }]),
      options,
      controller.signal,
    );
    await watch.started;
    controller.abort();
    assert.deepEqual(await watch.exited, { code: null, signal: null });
  });
});
