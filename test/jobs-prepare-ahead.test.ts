// [jobs] prepare_ahead (issue 17): a busy slot's next worker is made while its
// job runs. Every job still gets a user of its own, with its supplementary
// groups applied and its slot's console granted; a worker made ahead that no
// job took is gone when the agent stops, and after a crash the next start
// removes it; one whose disk a lease reserved before its pre-lease check failed
// is removed at once, giving the host its space back.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { workerUsername } from '../src/platform/worker-names.js';
import { eventually } from './helpers/eventually.js';
import { jobLab, OPERATOR_TOKEN, waitHealthy, type JobLab } from './helpers/job-lab.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';
import { ptyPair } from './helpers/pty-pair.js';

const JOBS_TOML = 'stop_grace = "1s"\nprepare_ahead = true';
const SLOT = [{ name: 's1', target: 'tb', extra: 'add_to_groups = ["dialout"]' }];
/** Who the job runs as, its groups, and whether it can open its console. */
const WHO_AM_I = ['sh', '-c', 'id -un; id -G; test -r /dev/labslot/s1-con -a -w /dev/labslot/s1-con && echo console'];

/** Local users of this lab's agent: named ls-*, with their home under its state directory. */
function workerUsersOf(stateDir: string): string[] {
  return readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .filter((f) => f[0]?.startsWith('ls-') === true && (f[5] ?? '').startsWith(`${stateDir}/`))
    .map((f) => f[0] ?? '');
}

/** Whether the lease of `jobId` took a worker made ahead, from its last log line. */
function tookAhead(lab: JobLab, jobId: string): unknown {
  return lab.agent.logs.findLast((l) => l['msg'] === 'lease phase' && l['to'] === 'done' && l['job'] === jobId)?.[
    'ahead'
  ];
}

async function runOne(lab: JobLab): Promise<{ id: string; user: string; groups: number[]; console: boolean }> {
  const id = await lab.submit({ target: 'tb', argv: WHO_AM_I });
  const job = await lab.waitDone(id);
  assert.equal(job.state, 'succeeded', `job ${id}: ${job.end_reason ?? ''}`);
  const [user = '', groups = '', console = ''] = (await lab.output(id)).trim().split('\n');
  assert.equal(user, workerUsername(job.worker_id ?? ''), 'the job runs as its own worker');
  return { id, user, groups: groups.split(' ').map(Number), console: console === 'console' };
}

describe('workers made ahead ([jobs] prepare_ahead)', () => {
  it('each job gets a fresh worker, made while the previous job ran, with its groups and console; none is left after stop', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    const lab = await jobLab(t, SLOT, '', JOBS_TOML);
    const dialout = Number(execFileSync('getent', ['group', 'dialout'], { encoding: 'utf8' }).split(':')[2]);
    const runs = [];
    for (let i = 0; i < 3; i += 1) runs.push(await runOne(lab));
    assert.equal(new Set(runs.map((r) => r.user)).size, 3, 'no worker serves two jobs');
    for (const run of runs) {
      assert.ok(
        run.groups.includes(dialout),
        `${run.user} has its slot's add_to_groups applied: ${run.groups.join(' ')}`,
      );
      assert.ok(run.console, `${run.user} can open its slot's console`);
    }
    assert.deepEqual(
      runs.map((r) => tookAhead(lab, r.id)),
      [false, true, true],
      'the first job made its own worker; the next ones took the one made while the previous job ran',
    );
    // Its network rules were worked out while the previous job ran: each lease that took one worked them out again.
    for (const run of runs.slice(1)) {
      const done = lab.agent.logs.findLast(
        (l) => l['msg'] === 'lease phase' && l['to'] === 'done' && l['job'] === run.id,
      );
      assert.ok(done?.['ms'] !== undefined && 'setup.policy' in (done['ms'] as object), JSON.stringify(done));
    }
    // The fourth job's worker waits: a user no job has had.
    await eventually(() => workerUsersOf(lab.stateDir).length === 1, { message: 'a worker made ahead to wait' });
    const [spare = ''] = workerUsersOf(lab.stateDir);
    assert.ok(!runs.some((r) => r.user === spare), 'a worker made ahead is not one a job had');
    await lab.agent.stop();
    assert.deepEqual(workerUsersOf(lab.stateDir), [], 'the agent removed the worker made ahead as it stopped');
  });

  it('after a crash, the next start removes a worker made ahead', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    const lab = await jobLab(t, SLOT, '', JOBS_TOML);
    await runOne(lab);
    await eventually(() => workerUsersOf(lab.stateDir).length === 1, { message: 'a worker made ahead to wait' });
    const [spare = ''] = workerUsersOf(lab.stateDir);
    await lab.agent.stop('SIGKILL');
    assert.deepEqual(workerUsersOf(lab.stateDir), [spare], 'the crash left the worker made ahead');
    await lab.restart();
    const removed = (await lab.events()).filter((e) => e.type === 'worker.orphan-removed');
    assert.ok(
      removed.some((e) => e.message.includes(spare)),
      `the start removed ${spare}: ${removed.map((e) => e.message).join('; ')}`,
    );
    assert.deepEqual(workerUsersOf(lab.stateDir), [], 'no worker user is left');
    // And the slot serves jobs again, each with a worker of its own.
    const after = await runOne(lab);
    assert.notEqual(after.user, spare);
  });

  it("removes a worker made ahead at once when its lease's pre-lease check fails, and the slot works again", async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    const lab = await jobLab(t, SLOT, '', JOBS_TOML);
    await runOne(lab);
    await eventually(() => workerUsersOf(lab.stateDir).length === 1, { message: 'a worker made ahead to wait' });
    // The periodic check runs hourly here: only the next lease's pre-lease check sees the console gone.
    await lab.consoles.get('s1')?.kill();
    const id = await lab.submit({ target: 'tb', argv: WHO_AM_I });
    await eventually(async () => ((await lab.job(id)).waiting ?? '').includes('unhealthy'), {
      message: 'the job to go back to the queue',
    });
    // The lease reserved the worker's disk as it began; it goes now, not after the slot's idle minute.
    await eventually(
      () => workerUsersOf(lab.stateDir).length === 0 && readdirSync(join(lab.stateDir, 'workers')).length === 0,
      { message: 'the worker made ahead, and its disk, to be removed' },
    );
    await ptyPair(t, lab.dir, 's1');
    assert.equal((await lab.post('/v1/slots/s1/check', {}, OPERATOR_TOKEN)).status, 200);
    await waitHealthy(lab.agent.url, 's1');
    const job = await lab.waitDone(id);
    assert.equal(job.state, 'succeeded', job.end_reason ?? '');
    assert.equal(tookAhead(lab, id), false, 'the job made a worker of its own');
  });
});
