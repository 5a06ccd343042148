// A job's disk cap ([jobs] limits.disk, issue 12 item 4), with a real agent,
// real users and real filesystems: a job that writes past its cap gets ENOSPC
// in $HOME, /work and /tmp while the state directory's disk holds only the
// cap (and the slot's next worker, made ahead, almost nothing); a job's cleanup
// takes its disk away, and an agent's stop or a restart after kill -9 leaves no
// mount, loop device or image; and a state directory on a full filesystem makes
// the API answer 507 with a JSON error, never 500, without changing any
// finished job's outcome.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { eventually } from './helpers/eventually.js';
import { jobLab, type JobLab } from './helpers/job-lab.js';
import { mountsAtOrUnder } from '../src/platform/linux/worker-disk.js';
import { loopDevicesUnder } from './helpers/mount-table.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';

const MIB = 1024 * 1024;

/** The directory of the worker that runs (or ran) `jobId`: the slot's next worker, made ahead, has one beside it. */
async function jobWorkerDir(lab: JobLab, jobId: string): Promise<string> {
  const worker = (await lab.job(jobId)).worker_id;
  assert.ok(worker !== null, `job ${jobId} has a worker`);
  return join(lab.stateDir, 'workers', worker);
}

/** The job's cleanup took its disk: no mount, loop device or file of its worker is left (a worker made ahead may be). */
function assertWorkerGone(dir: string, when: string): void {
  assert.deepEqual(mountsAtOrUnder(dir), [], `${when}: mounts of ${dir}`);
  assert.deepEqual(loopDevicesUnder(dir), [], `${when}: loop devices of ${dir}`);
  assert.equal(existsSync(dir), false, `${when}: ${dir} is removed`);
}

function assertNothingLeft(lab: JobLab, when: string): void {
  assert.deepEqual(mountsAtOrUnder(lab.stateDir), [], `${when}: mounts`);
  assert.deepEqual(loopDevicesUnder(lab.stateDir), [], `${when}: loop devices`);
  assert.deepEqual(readdirSync(join(lab.stateDir, 'workers')), [], `${when}: worker directories (and images)`);
}

/** Bytes a directory tree takes on disk (du), the image's allocated blocks included. */
function diskUsage(path: string): number {
  // -x: the image and the agent's files, not what the mounted filesystem holds (that is inside the image).
  return Number(execFileSync('du', ['-s', '-x', '-B1', path], { encoding: 'utf8' }).split('\t')[0]);
}

const FILL =
  'for d in "$HOME" /work /tmp /var/tmp; do dd if=/dev/zero of="$d/big" bs=1M count=20 2>&1 | grep -o "No space left on device"; echo "$d $(stat -c %s "$d/big")"; rm -f "$d/big"; done';

describe('job disk cap', () => {
  it('gives a job ENOSPC at its cap in $HOME, /work, /tmp and /var/tmp, holds the host to the cap, and cleans up', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']), command('bwrap', ['--version']), command('mkfs.ext4', ['-V'])))
      return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }], '', 'stop_grace = "1s"\nlimits = { disk = "8MiB" }');
    // Fills its disk, then waits: the test measures what it takes on the host meanwhile.
    const id = await lab.submit({
      target: 'tb',
      script: `${FILL}; dd if=/dev/zero of=/work/keep bs=1M count=20 2>/dev/null; echo filled; sleep 30`,
    });
    await lab.waitOutput(id, /filled/, 30_000);
    const dir = await jobWorkerDir(lab, id);
    let used: number;
    let all: number;
    try {
      used = diskUsage(dir);
      assert.equal(mountsAtOrUnder(dir).length, 1, "one filesystem for the job's worker");
      // The slot's next worker is made while this job runs ([jobs] prepare_ahead): measured once its disk is there too.
      await eventually(() => mountsAtOrUnder(lab.stateDir).length === 2, {
        message: 'the disk of the worker made ahead to be mounted',
      });
      all = diskUsage(join(lab.stateDir, 'workers'));
    } finally {
      await lab.post(`/v1/jobs/${id}/cancel`, {}, undefined);
      await lab.waitDone(id, 30_000);
    }
    t.diagnostic(`worker directory takes ${used} bytes on the host with an 8MiB cap and 20MiB written`);
    assert.ok(used <= 8 * MIB + 256 * 1024, `the host holds the cap, not what the job wrote: ${used}`);
    // Its disk's space is reserved only when a lease takes it: until then, no more than its filesystem's metadata.
    t.diagnostic(`the worker made ahead takes ${all - used} bytes on the host`);
    assert.ok(all - used <= 512 * 1024, `a worker made ahead holds none of the cap: ${all - used}`);
    const output = await lab.output(id);
    for (const dir of ['/work', '/tmp', '/var/tmp']) {
      const match = new RegExp(`^${dir} (\\d+)$`, 'm').exec(output);
      assert.ok(match, `${dir} in ${output}`);
      const size = Number(match[1]);
      assert.ok(size > 6 * MIB && size <= 8 * MIB, `${dir}: stopped at about 8MiB, wrote ${size}`);
    }
    assert.match(output, /^\/\S+\/home \d+$/m);
    assert.equal(output.match(/No space left on device/g)?.length, 4, output);
    assertWorkerGone(dir, 'after cleanup');
    await lab.agent.stop();
    assertNothingLeft(lab, 'after the agent stopped');
  });

  it('leaves no mount, loop device or image after kill -9 of the agent while a job fills its disk', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']), command('bwrap', ['--version']), command('mkfs.ext4', ['-V'])))
      return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }], '', 'stop_grace = "1s"\nlimits = { disk = "8MiB" }');
    const id = await lab.submit({
      target: 'tb',
      script: 'dd if=/dev/zero of=/tmp/big bs=1M count=20 2>/dev/null; echo filled; sleep 30',
    });
    await lab.waitOutput(id, /filled/, 30_000);
    assert.equal(mountsAtOrUnder(await jobWorkerDir(lab, id)).length, 1);
    await lab.agent.stop('SIGKILL');
    await lab.restart();
    assertNothingLeft(lab, 'after restart');
    const job = await lab.waitDone(id);
    assert.deepEqual(
      { state: job.state, infrastructure: job.infrastructure },
      { state: 'failed', infrastructure: true },
    );
  });

  it('answers 507 with a JSON error on a full state directory, works again once space is freed, and keeps finished outcomes', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']), command('bwrap', ['--version']), command('mkfs.ext4', ['-V'])))
      return;
    // The state directory on a 20 MiB filesystem of the test's own, outside the temp dir its cleanup removes.
    const base = mkdtempSync(join(tmpdir(), 'labslot-small-state-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=20m,mode=0755', 'tmpfs', base]);
    t.after(() => {
      execFileSync('umount', ['-l', base]);
      rmdirSync(base);
    });
    const lab = await jobLab(
      t,
      [{ name: 's1', target: 'tb' }],
      '',
      'stop_grace = "1s"\nlimits = { disk = "4MiB" }',
      {},
      { stateDir: join(base, 'state'), healthToml: 'min_free_disk = "1MiB"' },
    );
    const before = await lab.waitDone(await lab.submit({ target: 'tb', script: 'echo complete output' }));
    assert.equal(before.state, 'succeeded');
    // This one runs through the full disk: it has printed all it will, and ends (exit 0) only once the test says so.
    const through = await lab.submit({
      target: 'tb',
      script: 'echo printed before; while [ ! -e /tmp/go ]; do sleep 0.05; done',
    });
    await lab.waitOutput(through, /printed before/);

    // Fill what is left of the filesystem, as anything on the host may.
    const filler = join(base, 'filler');
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { stdio: 'ignore' });
    } catch {
      // dd ends with ENOSPC: that is the point.
    }
    const statuses: number[] = [];
    for (let i = 0; i < 8; i += 1) {
      const { status, json } = await lab.post('/v1/jobs', { target: 'tb', script: 'echo again' });
      statuses.push(status);
      if (status !== 201) {
        assert.equal(status, 507, JSON.stringify(json));
        const error = json['error'] as { code: string; message: string };
        assert.equal(error.code, 'disk_full');
        assert.match(error.message, /full/);
      }
    }
    t.diagnostic(`statuses on a full state directory: ${statuses.join(' ')}`);
    assert.ok(statuses.includes(507), `a full disk answers 507: ${statuses.join(' ')}`);
    assert.ok(!statuses.includes(500));

    // The running job ends while the disk is full: its cleanup frees its own disk, then records how it ended.
    writeFileSync(join(await jobWorkerDir(lab, through), 'disk', 'tmp', 'go'), '');
    const ended = await lab.waitDone(through, 30_000);
    assert.deepEqual(
      { state: ended.state, exit: ended.exit_code, reason: ended.end_reason },
      { state: 'succeeded', exit: 0, reason: 'exit code 0' },
    );
    assert.equal(await lab.output(through), 'printed before\n');

    rmSync(filler);
    const after = await lab.waitDone(await lab.submit({ target: 'tb', script: 'echo works again' }), 30_000);
    assert.equal(after.state, 'succeeded', JSON.stringify(after));
    assert.equal(await lab.output(after.id), 'works again\n');
    const afterDir = await jobWorkerDir(lab, after.id);
    // Outcomes stay as they were recorded, whatever the reconciler did meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    for (const [id, output] of [
      [before.id, 'complete output\n'],
      [through, 'printed before\n'],
    ] as const) {
      const job = await lab.job(id);
      assert.deepEqual(
        { state: job.state, exit: job.exit_code, reason: job.end_reason },
        { state: 'succeeded', exit: 0, reason: 'exit code 0' },
      );
      assert.equal(await lab.output(id), output);
    }
    assertWorkerGone(afterDir, 'at the end');
    await lab.agent.stop();
    assertNothingLeft(lab, 'after the agent stopped');
  });
});
