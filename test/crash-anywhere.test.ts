// kill -9 of the agent at a random point of a lease (pre-lease check, worker
// setup, the run, the stop, cleanup), 20 times, each followed by a restart:
// every time, nothing of the worker is left once the new agent listens
// (users, groups, processes, cgroups, mounts, loop devices, device ownership,
// directories and disk images).
// It looks only at what its own agent made, so it passes beside a demo or a
// second agent on the host.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { jobLab, ownership } from './helpers/job-lab.js';
import { loopDevicesUnder, mountTable } from './helpers/mount-table.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';

const ITERATIONS = 20;

/** Accounts whose home is under this lab's workers directory: what a crash could leave. */
function workerUsers(stateDir: string): string[] {
  const workers = join(stateDir, 'workers');
  return readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('ls-') && line.includes(`:${workers}/`))
    .map((line) => line.split(':')[0] ?? '');
}

function groupNames(): string[] {
  return readFileSync('/etc/group', 'utf8')
    .split('\n')
    .map((line) => line.split(':')[0] ?? '');
}

describe('crash anywhere', () => {
  it(`leaves nothing after kill -9 at a random point, ${ITERATIONS} times`, async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']), command('bwrap', ['--version']))) return;
    const lab = await jobLab(
      t,
      [{ name: 's1', target: 'tb', extra: '[slots.s1.limits]\npids = 256' }],
      '',
      // With workers made ahead: a kill also lands while the next job's worker is being made, which only the
      // next start's orphan sweep can find (it is not on record).
      'stop_grace = "1s"\nprepare_ahead = true',
    );
    const console = realpathSync(lab.consoles.get('s1')?.device ?? '');
    const before = { mounts: mountTable(lab.stateDir), console: ownership(console) };
    const points: number[] = [];
    for (let i = 0; i < ITERATIONS; i += 1) {
      // A short job, so the kill lands in setup, run, stop or cleanup alike; half of them get a cancel.
      const id = await lab.submit({ target: 'tb', script: 'sleep 0.1 & echo started; sleep 0.2' });
      if (i % 2 === 1) setTimeout(() => void lab.post(`/v1/jobs/${id}/cancel`, {}).catch(() => undefined), 40);
      const delay = Math.floor(Math.random() * 500);
      points.push(delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
      await lab.agent.stop('SIGKILL');
      await lab.restart();
      const state = `iteration ${i}, killed ${delay} ms after submitting (job now ${(await lab.job(id)).state})`;
      assert.deepEqual(workerUsers(lab.stateDir), [], `${state}: worker users`);
      const ours = new Set(lab.workers().map((w) => w.username));
      assert.deepEqual(
        groupNames().filter((g) => ours.has(g)),
        [],
        `${state}: worker groups`,
      );
      assert.deepEqual(lab.workerProcesses(), [], `${state}: worker processes`);
      assert.deepEqual(lab.cgroups(), [], `${state}: cgroups`);
      assert.deepEqual(mountTable(lab.stateDir), before.mounts, `${state}: mounts`);
      assert.deepEqual(ownership(console), before.console, `${state}: console owner and mode`);
      assert.deepEqual(readdirSync(join(lab.stateDir, 'workers')), [], `${state}: worker directories`);
      assert.deepEqual(loopDevicesUnder(lab.stateDir), [], `${state}: loop devices of worker disks`);
      const job = await lab.waitDone(id);
      assert.ok(job.done, state);
    }
    t.diagnostic(`kill points (ms after submit): ${points.join(', ')}`);
  });
});
