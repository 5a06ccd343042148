// Edges of a lease an operator will meet: holding a slot whose job runs,
// stopping the agent under a running job, and a cleanup that fails.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, it } from 'node:test';
import { processesOf } from '../src/platform/user-processes.js';
import { jobLab, OPERATOR_TOKEN } from './helpers/job-lab.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';

describe('lease edges', () => {
  it('a hold on a running slot lets the job finish, then keeps the slot out', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }]);
    const id = await lab.submit({ target: 'tb', script: 'echo started\nsleep 0.5\necho finished' });
    await lab.waitOutput(id, /started/);
    assert.equal((await lab.post('/v1/slots/s1/hold', { reason: 'scope attached' }, OPERATOR_TOKEN)).status, 200);
    const during = await lab.slot('s1');
    assert.equal(during.lease?.job_id, id);
    const job = await lab.waitDone(id);
    assert.equal(job.state, 'succeeded', 'the hold did not kill the job');
    const after = await lab.slot('s1');
    assert.deepEqual(
      { usage: after.usage, hold: after.hold?.reason, lease: after.lease },
      { usage: 'idle', hold: 'scope attached', lease: null },
    );
    const types = after.events.map((e) => e.type);
    assert.deepEqual(types.slice(types.indexOf('slot.leased')), [
      'slot.leased',
      'job.started',
      'slot.held',
      'job.ended',
      'slot.idle',
    ]);
    const next = await lab.submit({ target: 'tb', argv: ['true'] });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await lab.job(next)).waiting, 'tb: 1 held, 0 free');
  });

  it('stopping the agent stops its jobs first: SIGTERM, grace, cleanup, then exit 0', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }]);
    const id = await lab.submit({
      target: 'tb',
      script: "trap 'echo got TERM; exit 143' TERM\necho uid=$(id -u)\nwhile :; do sleep 0.1; done",
    });
    const [, uid = ''] = await lab.waitOutput(id, /uid=(\d+)/);
    assert.equal(await lab.agent.stop('SIGTERM'), 0);
    assert.deepEqual(processesOf(Number(uid)), []);
    assert.ok(
      !readFileSync('/etc/passwd', 'utf8')
        .split('\n')
        .some((l) => l.split(':')[2] === uid),
      'worker user deleted',
    );
    await lab.restart();
    const job = await lab.job(id);
    assert.deepEqual(
      { state: job.state, reason: job.end_reason, infrastructure: job.infrastructure },
      { state: 'failed', reason: 'agent stopped while the job ran', infrastructure: true },
    );
    assert.match(await lab.output(id), /got TERM/);
  });

  it('a failed cleanup holds the slot with the error; a restart retries it', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']), command('lsattr', ['-V']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }]);
    const id = await lab.submit({ target: 'tb', script: 'echo "home=$HOME"\nsleep 0.3' });
    const [, homeDir = ''] = await lab.waitOutput(id, /home=(\S+)/);
    // An immutable worker directory: cleanup cannot remove the worker's files. Not $HOME itself, which is on
    // the job's own disk (<root>/disk/home): deleting that disk's image removes it whatever its attributes.
    const home = dirname(dirname(homeDir));
    execFileSync('chattr', ['+i', home]);
    t.after(() => {
      try {
        execFileSync('chattr', ['-i', home], { stdio: 'ignore' });
      } catch {
        // Already cleared, and removed by the cleanup the test expects.
      }
    });
    const job = await lab.waitDone(id, 30_000);
    assert.equal(job.state, 'succeeded', 'the job itself is over and says how it ended');
    const held = await lab.slot('s1');
    assert.equal(held.usage, 'cleaning', 'never idle before cleanup has finished');
    assert.equal(held.hold?.source, 'system');
    assert.match(held.hold.reason, /^cleanup of worker w\S+ failed: .*(EPERM|not permitted)/);
    assert.ok(held.events.some((e) => e.type === 'worker.cleanup-failed'));

    execFileSync('chattr', ['-i', home]);
    await lab.agent.stop();
    await lab.restart();
    const after = await lab.slot('s1');
    assert.equal(after.usage, 'idle', 'the restart finished the cleanup');
    assert.equal(after.hold?.source, 'system', 'the hold stays until an operator releases it');
  });
});
