// The agent dies with kill -9 while a job runs. The restarted agent cleans the
// worker up (processes, device grant, user, files) and fails the job with
// "agent restarted" before it leases any slot again.
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { processesOf } from '../src/platform/user-processes.js';
import { jobLab, OPERATOR_TOKEN, ownership } from './helpers/job-lab.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';
import { eventually } from './helpers/eventually.js';

describe('crash recovery', () => {
  it('cleans up a worker left by kill -9 before leasing again', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }]);
    const console = realpathSync(lab.consoles.get('s1')?.device ?? '');
    const before = ownership(console);

    const id = await lab.submit({
      target: 'tb',
      script: 'echo "uid=$(id -u) user=$(id -un)"\nsleep 1000 &\nsleep 1000',
    });
    const [out, uid = '', user = ''] = await lab.waitOutput(id, /uid=(\d+) user=(\S+)/);
    assert.ok(processesOf(Number(uid)).length >= 2, out);
    assert.notDeepEqual(ownership(console), before, 'the console is granted to the worker while the job runs');

    await lab.agent.stop('SIGKILL');
    // The sandbox dies with its agent (bwrap --die-with-parent), so no job runs unsupervised; the
    // user, the device grant and the files stay for the next agent to clean up.
    await eventually(() => processesOf(Number(uid)).length === 0, {
      timeoutMs: 5_000,
      message: 'the sandbox to die with its agent',
    });
    assert.ok(readFileSync('/etc/passwd', 'utf8').includes(`\n${user}:`), 'worker user still there');
    assert.notDeepEqual(ownership(console), before, 'console still granted');

    const again = await lab.restart();
    const next = await lab.submit({ target: 'tb', argv: ['true'] });
    const job = await lab.job(id);
    assert.equal(job.state, 'failed');
    assert.equal(job.end_reason, 'agent restarted');
    assert.equal(job.infrastructure, true);
    assert.deepEqual(processesOf(Number(uid)), [], 'no process of the worker UID');
    assert.ok(!readFileSync('/etc/passwd', 'utf8').includes(`\n${user}:`), 'worker user deleted');
    assert.deepEqual(ownership(console), before, 'console owner and mode restored');

    assert.equal((await lab.waitDone(next)).state, 'succeeded');
    const events = await lab.events();
    const ended = events.findIndex(
      (e) => e.type === 'job.ended' && e.job_id === id && e.message.includes('agent restarted'),
    );
    const cleaned = events.findIndex((e) => e.type === 'slot.idle' && e.job_id === id);
    const leasedAgain = events.findIndex((e) => e.type === 'slot.leased' && e.job_id === next);
    assert.ok(
      ended >= 0 && cleaned > ended && leasedAgain > cleaned,
      `cleanup (${ended}, ${cleaned}) before the next lease (${leasedAgain})`,
    );
    assert.equal(await again.stop(), 0);
  });

  it('removes worker users and directories the database does not know', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']), command('useradd', ['--help']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }]);
    await lab.agent.stop();
    // What a lost database leaves: a worker user with a process, and a worker directory.
    // Names and ids of this run only: another suite on the host (a second CI clone) makes its own.
    const tag = randomBytes(3).toString('hex');
    const orphan = `ls-orphan${tag}`;
    const neighbour = `ls-neighbour${tag}`;
    const uid = 2 ** 20 + randomInt(4_096, 2 ** 29);
    execFileSync('groupadd', ['-g', String(uid), orphan]);
    execFileSync(
      'useradd',
      [
        '-u',
        String(uid),
        '-g',
        String(uid),
        '-M',
        '-N',
        '-d',
        join(lab.stateDir, 'workers', 'wlost', 'home'),
        '-K',
        'UID_MAX=1073741823',
        orphan,
      ],
      { stdio: 'ignore' },
    );
    // A worker user of another agent on this host (its home elsewhere) is not this agent's to remove.
    execFileSync(
      'useradd',
      [
        '-u',
        String(uid + 1),
        '-M',
        '-d',
        '/var/lib/other-agent/workers/w1/home',
        '-K',
        'UID_MAX=1073741823',
        neighbour,
      ],
      { stdio: 'ignore' },
    );
    const sleeper = spawn('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', 'sleep', '1000'], {
      stdio: 'ignore',
      detached: true,
    });
    // One hook, in this order: userdel refuses a user that still has a process.
    t.after(() => {
      sleeper.kill('SIGKILL');
      spawnSync('userdel', [orphan]);
      spawnSync('groupdel', [orphan]);
      spawnSync('userdel', [neighbour]);
    });
    mkdirSync(join(lab.stateDir, 'workers', 'wlost'), { recursive: true });
    // Its disk ([jobs] limits.disk) still mounted: rm alone would leave the mount, the loop device and the image.
    const disk = join(lab.stateDir, 'workers', 'wlost', 'disk');
    mkdirSync(disk);
    execFileSync('fallocate', ['-l', '4MiB', `${disk}.img`]);
    execFileSync('mkfs.ext4', ['-q', '-F', '-O', '^has_journal', `${disk}.img`]);
    execFileSync('mount', ['-o', 'loop', `${disk}.img`, disk]);
    t.after(() => void spawnSync('umount', ['-l', disk]));
    await eventually(() => processesOf(uid).length === 1, { message: 'the orphan process runs' });

    await lab.restart();
    assert.deepEqual(processesOf(uid), []);
    assert.ok(!readFileSync('/etc/passwd', 'utf8').includes(`${orphan}:`));
    assert.ok(readFileSync('/etc/passwd', 'utf8').includes(`${neighbour}:`), "another agent's worker is left alone");
    assert.ok(!readFileSync('/etc/group', 'utf8').includes(`${orphan}:`));
    assert.equal(existsSync(join(lab.stateDir, 'workers', 'wlost')), false);
    assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(disk), 'the orphan disk is unmounted');
    assert.ok(
      !execFileSync('losetup', ['-l', '-n', '-O', 'BACK-FILE'], { encoding: 'utf8' }).includes(disk),
      'and its loop device detached',
    );
    assert.ok((await lab.events()).some((e) => e.type === 'worker.orphan-removed' && e.message.includes(orphan)));
  });

  it("a second agent on the host leaves the first one's running job, cgroup and device grant alone", async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']), command('bwrap', ['--version']))) return;
    const first = await jobLab(t, [{ name: 's1', target: 'tb' }]);
    const console = realpathSync(first.consoles.get('s1')?.device ?? '');
    const id = await first.submit({ target: 'tb', script: 'echo started\nsleep 1000' });
    await first.waitOutput(id, /started/);
    const granted = ownership(console);
    const cgroups = first.cgroups();
    assert.equal(cgroups.length, 1, 'the job runs in its cgroup');

    // Another agent, another state directory; its configuration even names the first one's console
    // (two configs sharing a device by mistake). Its start sweeps orphans before it listens.
    const second = await jobLab(
      t,
      [{ name: 'o1', target: 'other', devices: ['shared-con'] }],
      `[devices.shared-con]\nkind = "serial"\npath = "${console}"\n`,
    );
    assert.deepEqual(second.cgroups(), [], 'the second agent has no cgroup of its own');
    assert.deepEqual(first.cgroups(), cgroups, "the first agent's job cgroup is still there");
    assert.deepEqual(ownership(console), granted, "the first job's device grant is untouched");
    assert.equal((await first.job(id)).state, 'running', "the first agent's job still runs");
    assert.ok(
      !(await second.events()).some((e) => e.type === 'worker.orphan-removed'),
      'the second agent removed nothing',
    );

    // And it ends as its own agent says, not as SIGKILL from the other one.
    assert.equal((await first.post(`/v1/jobs/${id}/cancel`, {}, OPERATOR_TOKEN)).status, 200);
    const job = await first.waitDone(id);
    assert.equal(job.state, 'cancelled', JSON.stringify(job));
  });
});
