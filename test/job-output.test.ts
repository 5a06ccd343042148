// Job output: many followers at once, from any offset, byte for byte, while
// the job writes; memory stays bounded because each follower reads a chunk at
// a time when its client wants one. And the queue's order: priority, then FIFO.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { jobLab, OPERATOR_TOKEN, SUBMITTER_TOKEN } from './helpers/job-lab.js';

const auth = { authorization: `Bearer ${SUBMITTER_TOKEN}` };
import { command, requires, ROOT } from './helpers/prerequisites.js';

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN) / 1024;
}

describe('job output', () => {
  it('streams to 20 followers at once from different offsets, byte for byte, with bounded memory', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }]);
    const pid = lab.agent.child.pid ?? 0;
    // 64 MiB of numbered lines, written over about a second while followers read.
    const script =
      'i=0; while [ $i -lt 64 ]; do seq -f "line %08.0f ..................................................." $((i*800000+1)) $((i*800000+800000)) | head -c 1048576; i=$((i+1)); sleep 0.01; done';
    const id = await lab.submit({ target: 'tb', script });
    const rssBefore = rssMiB(pid);
    let peak = rssBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 20);
    const offsets = Array.from({ length: 20 }, (_, i) => i * 1_000_003);
    const followers = offsets.map(async (offset, i) => {
      const response = await fetch(`${lab.agent.url}/v1/jobs/${id}/output?offset=${offset}&follow=1`, {
        headers: auth,
        signal: AbortSignal.timeout(90_000),
      });
      assert.equal(response.headers.get('content-type'), 'text/plain; charset=utf-8');
      const hash = createHash('sha256');
      let bytes = 0;
      const reader = (response.body as ReadableStream<Uint8Array> | null)?.getReader();
      assert.ok(reader);
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        hash.update(value);
        bytes += value.length;
        // Slow readers: every other follower dawdles, so the agent must not buffer for it.
        if (i % 2 === 1 && bytes % (4 * 1024 * 1024) < value.length)
          await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return { offset, bytes, digest: hash.digest('hex') };
    });
    const results = await Promise.all(followers);
    clearInterval(sampler);
    const job = await lab.waitDone(id);
    assert.equal(job.state, 'succeeded');
    const whole = readFileSync(`${lab.stateDir}/jobs/${id}/output.log`);
    assert.equal(whole.length, 64 * 1024 * 1024);
    for (const r of results) {
      assert.equal(r.bytes, whole.length - r.offset, `follower from ${r.offset} got everything after it`);
      assert.equal(r.digest, createHash('sha256').update(whole.subarray(r.offset)).digest('hex'));
    }
    // 20 followers × 64 MiB went through; the agent's memory must not have grown by anything like that.
    t.diagnostic(
      `agent RSS ${rssBefore.toFixed(0)} MiB before, peak ${peak.toFixed(0)} MiB with 20 followers of 64 MiB`,
    );
    assert.ok(peak - rssBefore < 150, `agent RSS grew by ${(peak - rssBefore).toFixed(0)} MiB`);

    // Without follow: what exists now, from the offset, then the end.
    const tail = await (
      await fetch(`${lab.agent.url}/v1/jobs/${id}/output?offset=${whole.length - 10}`, { headers: auth })
    ).text();
    assert.equal(tail, whole.subarray(whole.length - 10).toString());
    assert.equal((await fetch(`${lab.agent.url}/v1/jobs/${id}/output?offset=-1`, { headers: auth })).status, 400);
    // A job's output is its submitter's business: no token, no output, even on loopback.
    assert.equal((await fetch(`${lab.agent.url}/v1/jobs/${id}/output`)).status, 401);
    assert.equal((await fetch(`${lab.agent.url}/v1/jobs/${id}`)).status, 401);
    assert.equal((await fetch(`${lab.agent.url}/v1/jobs`)).status, 401);
  });

  it('gives slots to higher priority first, then in submission order', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }]);
    assert.equal((await lab.post('/v1/slots/s1/hold', { reason: 'queue test' }, OPERATOR_TOKEN)).status, 200);
    const low1 = await lab.submit({ target: 'tb', argv: ['true'], priority: -5 });
    const normal1 = await lab.submit({ target: 'tb', argv: ['true'] });
    const high = await lab.submit({ target: 'tb', argv: ['true'], priority: 10 });
    const normal2 = await lab.submit({ target: 'tb', argv: ['true'] });
    const low2 = await lab.submit({ target: 'tb', argv: ['true'], priority: -5 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal((await lab.job(high)).waiting, 'tb: 1 held, 0 free');
    assert.equal((await lab.post('/v1/slots/s1/release', {}, OPERATOR_TOKEN)).status, 200);
    for (const id of [low1, normal1, high, normal2, low2]) await lab.waitDone(id);
    const order = (await lab.events()).filter((e) => e.type === 'slot.leased').map((e) => e.job_id);
    assert.deepEqual(order, [high, normal1, normal2, low1, low2]);
  });
});
