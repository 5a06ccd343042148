// Any agent of a lab is its front door (DESIGN §7, issue 15): a job submitted
// to host A for a target only host B has runs on B, and CI talking only to A
// (or to C) sees its status, its output byte for byte from any offset, its
// exit code, its outputs, and can cancel it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { runCli } from './helpers/cli.js';
import { SUBMITTER_TOKEN } from './helpers/job-api.js';
import { NOT_IN_A_JOB } from './helpers/job-cli.js';
import { startLabHosts, type LabHost, type LabHosts } from './helpers/lab-hosts.js';
import { getBytes, outputBytes } from './helpers/lab-views.js';
import { labDatabase, POSTGRES_CLUSTER } from './helpers/postgres.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';
import { tempDir } from './helpers/temp-dir.js';

/** Three hosts, each the only one with its target: a job for sidecar can only run on lab-b. */
async function threeHosts(t: TestContext): Promise<LabHosts> {
  const database = await labDatabase(t);
  return startLabHosts(t, {
    database,
    hosts: [
      { name: 'lab-a', slots: [{ name: 'fd-a-1', target: 'gimlet' }] },
      { name: 'lab-b', slots: [{ name: 'fd-b-1', target: 'sidecar' }] },
      { name: 'lab-c', slots: [{ name: 'fd-c-1', target: 'psc' }] },
    ],
  });
}

function ready(t: TestContext): boolean {
  return requires(t, ROOT, POSTGRES_CLUSTER, command('socat', ['-V']), command('bwrap', ['--version']));
}

// Thousands of lines, a pause (so a follower reads a job still running) and bytes that are not UTF-8.
const SCRIPT = [
  'echo "LABSLOT_SLOT=$LABSLOT_SLOT"',
  "seq -f 'line %g' 1 3000",
  'sleep 1',
  "printf '\\303\\251\\001\\377 end\\n'",
].join('\n');

describe('any agent of a lab is its front door', () => {
  it('a job submitted to A for a target only B has runs on B, and A serves its output byte-exact', async (t) => {
    if (!ready(t)) return;
    const lab = await threeHosts(t);
    const [a, b, c] = [lab.host('lab-a'), lab.host('lab-b'), lab.host('lab-c')];

    const id = await lab.submit(a.url, { target: 'sidecar', script: SCRIPT });
    // Followed through A from the start, while the job is still queued or running: all of it, once.
    const followed = outputBytes(a.url, id, 0, true);
    // And followed through C from the middle of what it has printed so far (it pauses after the lines).
    const soFar = (await lab.waitOutput(a.url, id, /line 3000\n/, 30_000)).input.length;
    const fromMiddle = Math.floor(soFar / 2) + 1;
    const followedFromMiddle = outputBytes(c.url, id, fromMiddle, true);
    const done = await lab.waitDone(a.url, id, 60_000);
    assert.equal(done.state, 'succeeded', JSON.stringify(done));
    assert.equal(done.host, 'lab-b');
    assert.equal(done.slot, 'fd-b-1');
    assert.equal((await lab.job(b.url, id)).slot, 'fd-b-1', "B's own record says the same");

    const onB = await outputBytes(b.url, id);
    const text = onB.toString('latin1');
    assert.match(text, /^LABSLOT_SLOT=fd-b-1\nline 1\n/);
    const tail = Buffer.from([0xc3, 0xa9, 0x01, 0xff, 0x20, 0x65, 0x6e, 0x64, 0x0a]);
    assert.ok(onB.subarray(-tail.length).equals(tail), 'the bytes that are not UTF-8 are there as printed');
    assert.ok((await followed).equals(onB), 'followed through A from offset 0: the same bytes as B has');
    assert.ok((await followedFromMiddle).equals(onB.subarray(fromMiddle)), 'followed through C from the middle');
    assert.equal(done.output_bytes, onB.length);

    const middle = Math.floor(onB.length / 2) + 1; // Inside a line, not on a boundary.
    for (const offset of [0, 1, middle, onB.length - 3, onB.length - 1, onB.length]) {
      for (const front of [a, c]) {
        const got = await outputBytes(front.url, id, offset);
        assert.ok(got.equals(onB.subarray(offset)), `${front.name} from offset ${offset}: ${got.length} bytes`);
      }
    }
    // A follower of an ended job from the middle gets the rest and is done.
    assert.ok((await outputBytes(a.url, id, middle, true)).equals(onB.subarray(middle)));
    // Nothing ran on A or C meanwhile.
    for (const other of [a, c]) {
      const slot = (await lab.slot(other.url, other.name === 'lab-a' ? 'fd-a-1' : 'fd-c-1')).events;
      assert.ok(!slot.some((e) => e.job_id === id), `${other.name} never saw the job on its slot`);
    }

    // `labslot job run` pointed at A only: the job's output on stdout, the job's exit code as its own.
    const run = await runCli(
      ['job', 'run', '--url', a.url, '--target', 'sidecar', '--', 'sh', '-c', 'echo "ran on $LABSLOT_SLOT"; exit 7'],
      { env: { ...NOT_IN_A_JOB, LABSLOT_TOKEN: SUBMITTER_TOKEN }, timeoutMs: 60_000 },
    );
    assert.equal(run.code, 7, run.stderr);
    assert.equal(run.stdout, 'ran on fd-b-1\n');
    const runId = /job (j\w+)/.exec(run.stderr)?.[1] ?? '';
    assert.notEqual(runId, '', run.stderr);
    const ran = await lab.job(c.url, runId);
    assert.deepEqual([ran.host, ran.slot, ran.state, ran.exit_code], ['lab-b', 'fd-b-1', 'failed', 7]);
  });

  it("status, cancel and outputs of B's jobs work through A and through C", async (t) => {
    if (!ready(t)) return;
    const lab = await threeHosts(t);
    const [a, b, c] = [lab.host('lab-a'), lab.host('lab-b'), lab.host('lab-c')];

    // Cancelled through C, submitted through A; then the other way round.
    const pairs: [LabHost, LabHost][] = [
      [a, c],
      [c, a],
    ];
    for (const [submitTo, cancelAt] of pairs) {
      const id = await lab.submit(submitTo.url, { target: 'sidecar', script: 'echo started; sleep 60' });
      await lab.waitOutput(cancelAt.url, id, /started/, 30_000);
      for (const front of [a, c]) {
        const view = await lab.job(front.url, id);
        assert.deepEqual([view.state, view.host, view.slot], ['running', 'lab-b', 'fd-b-1'], front.name);
      }
      const cancel = await lab.post(cancelAt.url, `/v1/jobs/${id}/cancel`, {});
      assert.equal(cancel.status, 200, JSON.stringify(cancel.json));
      const ended = await lab.waitDone(submitTo.url, id, 30_000);
      assert.equal(ended.state, 'cancelled', JSON.stringify(ended));
      assert.match(ended.end_reason ?? '', /^cancelled by submitter:/);
      assert.equal((await lab.job(b.url, id)).state, 'cancelled', 'B, which ran it, agrees');
    }

    // $LABSLOT_OUTPUT comes back through any front door, as B kept it.
    const id = await lab.submit(c.url, {
      target: 'sidecar',
      script: 'mkdir -p "$LABSLOT_OUTPUT/logs" && echo "pass on $LABSLOT_SLOT" > "$LABSLOT_OUTPUT/logs/result.txt"',
    });
    assert.equal((await lab.waitDone(a.url, id, 30_000)).state, 'succeeded');
    const kept = await getBytes(b.url, `/v1/jobs/${id}/outputs`);
    assert.equal(kept.status, 200);
    const dir = tempDir(t);
    for (const front of [a, c]) {
      const raw = await getBytes(front.url, `/v1/jobs/${id}/outputs`);
      assert.equal(raw.status, 200, raw.body.toString());
      assert.ok(raw.body.equals(kept.body), `${front.name} serves B's archive as it is`);
      const out = join(dir, front.name);
      const fetched = await runCli(['job', 'outputs', id, '-o', out, '--url', front.url], {
        env: { ...NOT_IN_A_JOB, LABSLOT_TOKEN: SUBMITTER_TOKEN },
      });
      assert.equal(fetched.code, 0, fetched.stderr);
      assert.equal(readFileSync(join(out, 'logs', 'result.txt'), 'utf8'), 'pass on fd-b-1\n');
    }
  });
});
