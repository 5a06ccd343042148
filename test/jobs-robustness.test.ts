// What a hostile or unlucky job does to the agent, and what the agent does
// about it: a slot where workers cannot be set up is held, output past the cap
// is cut at max_output + 1 byte by a relay the job cannot reach and stops the
// job (whether it ignores SIGTERM or dies of SIGPIPE), output of exactly the cap
// is kept whole, a directory tree deeper than PATH_MAX is still removed, a huge
// request body is refused before it is read, and a database locked by another
// process while a job ends delays the bookkeeping without losing it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { jobOutputPath } from '../src/jobs/job-paths.js';
import { eventually } from './helpers/eventually.js';
import { jobLab } from './helpers/job-lab.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';

const MIB = 1024 * 1024;

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * What relays the jobs' output for the agent `agentPid`: its spawner (labslot-spawner), or without one
 * an output relay (`head -c`) per job; either way a child of the agent.
 */
function relaysOf(agentPid: number | undefined): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        return (
          /^Name:\s+(head|labslot-spawner)$/m.test(status) &&
          new RegExp(`^PPid:\\s+${String(agentPid)}$`, 'm').test(status) &&
          !/^State:\s+Z/m.test(status)
        );
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Processes that have `file` open: once a job has ended, nothing may still write into its output. */
function holdersOf(file: string): number[] {
  const real = realpathSync(file);
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readdirSync(`/proc/${pid}/fd`).some((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`) === real);
      } catch {
        return false; // gone, or a kernel thread
      }
    })
    .map(Number);
}

describe('robustness', () => {
  it('holds a slot whose workers cannot be set up, so the queue goes elsewhere', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    const lab = await jobLab(t, [
      { name: 'a1', target: 'tb', extra: 'add_to_groups = ["no-such-group-here"]' },
      { name: 'b2', target: 'tb' },
    ]);
    const ids = [];
    for (let i = 0; i < 4; i += 1) ids.push(await lab.submit({ target: 'tb', argv: ['true'] }));
    const jobs = [];
    for (const id of ids) jobs.push(await lab.waitDone(id));
    const [first] = jobs;
    assert.ok(first);
    assert.equal(first.slot, 'a1');
    assert.equal(first.infrastructure, true);
    assert.match(first.end_reason ?? '', /^worker setup failed: useradd .*no-such-group-here/);
    assert.deepEqual(
      jobs.slice(1).map((j) => [j.slot, j.state]),
      [
        ['b2', 'succeeded'],
        ['b2', 'succeeded'],
        ['b2', 'succeeded'],
      ],
    );
    const a1 = await lab.slot('a1');
    assert.deepEqual({ usage: a1.usage, source: a1.hold?.source }, { usage: 'idle', source: 'system' });
    assert.match(a1.hold?.reason ?? '', /^worker setup failed/);
  });

  it('stops a job whose output passes [jobs] max_output', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }], '', 'stop_grace = "1s"\nmax_output = "1MiB"');
    const id = await lab.submit({
      target: 'tb',
      script: 'while :; do head -c 65536 /dev/zero | tr "\\0" x; sleep 0.05; done',
    });
    const job = await lab.waitDone(id, 20_000);
    assert.deepEqual(
      { state: job.state, ended_by: job.ended_by, reason: job.end_reason },
      { state: 'failed', ended_by: 'limit', reason: 'output exceeded the limit of 1MiB ([jobs] max_output)' },
    );
  });

  it('cuts the output of a job that ignores SIGTERM and runs yes at 1MiB + 1 byte, and stops it', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }], '', 'stop_grace = "1s"\nmax_output = "1MiB"');
    // yes dies of SIGPIPE at the cap, and the loop starts it again: only the stop ends this job.
    const id = await lab.submit({ target: 'tb', script: 'trap "" TERM; while :; do yes; done' });
    const job = await lab.waitDone(id, 30_000);
    assert.deepEqual(
      { state: job.state, ended_by: job.ended_by, reason: job.end_reason },
      { state: 'failed', ended_by: 'limit', reason: 'output exceeded the limit of 1MiB ([jobs] max_output)' },
    );
    const output = readFileSync(jobOutputPath(lab.stateDir, id));
    assert.equal(output.length, MIB + 1, 'the cap and the one byte that shows it was passed');
    assert.ok(output.equals(Buffer.from('y\n'.repeat(MIB / 2 + 1)).subarray(0, MIB + 1)));
    assert.deepEqual(holdersOf(jobOutputPath(lab.stateDir, id)), [], 'no relay left');
  });

  it('ends a job killed by SIGPIPE at the cap with ended_by limit', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }], '', 'stop_grace = "1s"\nmax_output = "1MiB"');
    const id = await lab.submit({ target: 'tb', argv: ['yes'] });
    const job = await lab.waitDone(id, 30_000);
    assert.deepEqual(
      { state: job.state, ended_by: job.ended_by, reason: job.end_reason },
      { state: 'failed', ended_by: 'limit', reason: 'output exceeded the limit of 1MiB ([jobs] max_output)' },
    );
    assert.equal(statSync(jobOutputPath(lab.stateDir, id)).size, MIB + 1);
    assert.deepEqual(holdersOf(jobOutputPath(lab.stateDir, id)), [], 'no relay left');
  });

  it('keeps output of exactly max_output whole, stdout and stderr in the order written', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }], '', 'stop_grace = "1s"\nmax_output = "1MiB"');
    // 1000 lines alternating between stdout and stderr, then seq's digits up to exactly 1 MiB in all.
    const lines = Array.from({ length: 1000 }, (_, i) => `${i % 2 === 0 ? 'out' : 'err'} ${i}\n`).join('');
    const rest = MIB - Buffer.byteLength(lines);
    const script = `echo ready; sleep 1; i=0; while [ $i -lt 1000 ]; do if [ $((i % 2)) -eq 0 ]; then echo "out $i"; else echo "err $i" >&2; fi; i=$((i + 1)); done; seq 1 300000 | head -c ${rest - 'ready\n'.length}`;
    const id = await lab.submit({ target: 'tb', script });
    await lab.waitOutput(id, /ready/);
    // The relay runs as root outside the job's cgroups: the job can neither kill it nor write past it.
    const [relay] = relaysOf(lab.agent.child.pid);
    assert.ok(relay !== undefined, 'a relay runs while the job does');
    assert.match(readFileSync(`/proc/${relay}/status`, 'utf8'), /^Uid:\s+0\s/m);
    const job0 = await lab.job(id);
    assert.ok(job0.worker_id);
    assert.ok(
      !readFileSync(`/proc/${relay}/cgroup`, 'utf8').includes(job0.worker_id),
      "the relay is not in the job's cgroups",
    );
    const job = await lab.waitDone(id, 30_000);
    assert.deepEqual({ state: job.state, ended_by: job.ended_by }, { state: 'succeeded', ended_by: 'exit' });
    const expected = Buffer.from(
      `ready\n${lines}${Array.from({ length: 300000 }, (_, i) => `${i + 1}\n`).join('')}`,
    ).subarray(0, MIB);
    const output = readFileSync(jobOutputPath(lab.stateDir, id));
    assert.equal(output.length, MIB);
    assert.equal(sha256(output), sha256(expected));
    assert.deepEqual(holdersOf(jobOutputPath(lab.stateDir, id)), [], 'no relay left');
  });

  it('leaves no relay behind when the agent dies under a running job', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }], '', 'stop_grace = "1s"\nmax_output = "1MiB"');
    const id = await lab.submit({ target: 'tb', script: 'echo ready; sleep 60' });
    await lab.waitOutput(id, /ready/);
    const [relay] = relaysOf(lab.agent.child.pid);
    assert.ok(relay !== undefined);
    await lab.agent.stop('SIGKILL');
    // The relay (the spawner, or head) ends with the agent, bwrap (--die-with-parent) and the job's processes with it.
    await eventually(
      () => !existsSync(`/proc/${relay}`) || /^State:\s+Z/m.test(readFileSync(`/proc/${relay}/status`, 'utf8')),
      {
        timeoutMs: 10_000,
        intervalMs: 10,
        message: 'the relay to end with the agent',
      },
    );
    await lab.restart();
    const job = await lab.waitDone(id, 30_000);
    assert.equal(job.state, 'failed');
  });

  it('removes a worker directory deeper than PATH_MAX', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }]);
    // 40 levels of 200 characters: 8000 bytes of path, twice PATH_MAX; relative chdir makes it possible.
    const deep =
      "import os; os.chdir(os.environ['HOME'])\nfor _ in range(40):\n    os.mkdir('d' * 200)\n    os.chdir('d' * 200)\nprint('deep')";
    const id = await lab.submit({ target: 'tb', argv: ['python3', '-c', deep] });
    const job = await lab.waitDone(id);
    assert.equal(job.state, 'succeeded', await lab.output(id));
    const slot = await lab.slot('s1');
    assert.deepEqual({ usage: slot.usage, hold: slot.hold }, { usage: 'idle', hold: null });
  });

  it('refuses a huge request body without reading it', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }]);
    const huge = JSON.stringify({ message: 'x'.repeat(8 * 1024 * 1024) });
    const response = await fetch(`${lab.agent.url}/v1/worker/mark-broken`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer x' },
      body: huge,
    });
    assert.equal(response.status, 413);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'body_too_large');
  });

  it('finishes a lease whose end was written while another process held the database', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }]);
    const id = await lab.submit({ target: 'tb', script: 'echo "user=$(id -un)"; sleep 1' });
    const [, user = ''] = await lab.waitOutput(id, /user=(\S+)/);
    // Another process takes the write lock for longer than the agent's busy timeout, across the job's end.
    const blocker = new Database(join(lab.stateDir, 'labslot.db'));
    t.after(() => blocker.close());
    blocker.exec('BEGIN IMMEDIATE');
    await new Promise((resolve) => setTimeout(resolve, 8_000));
    blocker.exec('COMMIT');
    const job = await lab.waitDone(id, 30_000);
    assert.equal(job.state, 'succeeded');
    const slot = await lab.slot('s1');
    assert.deepEqual({ usage: slot.usage, hold: slot.hold }, { usage: 'idle', hold: null });
    assert.ok(!readFileSync('/etc/passwd', 'utf8').includes(`\n${user}:`), 'worker user deleted');
  });
});
