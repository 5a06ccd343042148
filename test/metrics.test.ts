// GET /metrics against a real agent with PTY consoles, read with Prometheus'
// own exposition parser: holds, health, jobs and the queue as an operator's
// dashboard would see them, a scrape that survives odd rows, and the token an
// agent beyond loopback asks for.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Registry } from 'prom-client';
import { EventMetrics } from '../src/http/metrics/event-metrics.js';
import { decideOutcome } from '../src/jobs/job-outcome.js';
import { submitJob } from '../src/jobs/job-queue.js';
import { jobRequestSchema } from '../src/jobs/job-request.js';
import { claimSlot, completeLease, markCleaning, markRunning, recordWorker } from '../src/jobs/lease-records.js';
import { recordCleanupFailure } from '../src/jobs/worker-cleanup.js';
import { PROJECT_ROOT } from './helpers/cli.js';
import { labFixture } from './helpers/lab-fixture.js';
import { startAgent } from './helpers/agent-process.js';
import { jobLab, OPERATOR_TOKEN, type JobLab } from './helpers/job-lab.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';
import { parsePrometheusText, PROMETHEUS_PARSER, sampleValue, type MetricFamily } from './helpers/prometheus-text.js';
import { tempDir } from './helpers/temp-dir.js';

const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

async function scrape(url: string, headers: Record<string, string> = {}): Promise<MetricFamily[]> {
  const response = await fetch(`${url}/metrics`, { headers, signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  assert.equal(response.headers.get('content-type'), PROMETHEUS_TEXT);
  return parsePrometheusText(text);
}

/** Value of one sample, failing the test when it is missing. */
function value(families: readonly MetricFamily[], name: string, labels: Record<string, string>): number {
  const found = sampleValue(families, name, labels);
  assert.notEqual(found, undefined, `no sample ${name}${JSON.stringify(labels)}`);
  return found ?? NaN;
}

async function labWith(
  t: Parameters<typeof jobLab>[0],
  slots: Parameters<typeof jobLab>[1],
): Promise<JobLab | undefined> {
  if (!requires(t, ROOT, command('socat', ['-V']), PROMETHEUS_PARSER)) return undefined;
  return jobLab(t, slots);
}

describe('GET /metrics', () => {
  it('shows a hold with its source and age, the queue it causes, and the hold duration once released', async (t) => {
    const lab = await labWith(t, [{ name: 's1', target: 'alpha' }]);
    if (!lab) return;
    const fresh = await scrape(lab.agent.url);
    assert.deepEqual(
      [
        value(fresh, 'labslot_slot_held', { slot: 's1', target: 'alpha' }),
        value(fresh, 'labslot_slot_usage', { slot: 's1', usage: 'idle' }),
        value(fresh, 'labslot_slot_health', { slot: 's1', health: 'healthy' }),
      ],
      [0, 1, 1],
    );
    assert.equal(
      sampleValue(fresh, 'labslot_hold_duration_seconds_count', { slot: 's1' }),
      undefined,
      'no hold released yet',
    );
    assert.deepEqual(
      [
        value(fresh, 'labslot_queue_jobs', { target: 'alpha' }),
        value(fresh, 'labslot_queue_oldest_age_seconds', { target: 'alpha' }),
      ],
      [0, 0],
    );

    assert.equal((await lab.post('/v1/slots/s1/hold', { reason: 'scope attached' }, OPERATOR_TOKEN)).status, 200);
    const id = await lab.submit({ target: 'alpha', argv: ['true'] });
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal((await lab.job(id)).state, 'queued');
    const held = await scrape(lab.agent.url);
    assert.equal(value(held, 'labslot_slot_held', { slot: 's1', source: 'operator' }), 1);
    assert.equal(
      sampleValue(held, 'labslot_slot_held', { slot: 's1', source: '' }),
      undefined,
      'one held series per slot',
    );
    assert.ok(value(held, 'labslot_slot_hold_age_seconds', { slot: 's1', source: 'operator' }) >= 0.3);
    assert.equal(value(held, 'labslot_holds_total', { slot: 's1', source: 'operator' }), 1);
    assert.equal(value(held, 'labslot_queue_jobs', { target: 'alpha' }), 1);
    const age = value(held, 'labslot_queue_oldest_age_seconds', { target: 'alpha' });
    assert.ok(age >= 0.3 && age < 30, `oldest queued job is ${age} s old`);

    // Cancelled while queued: ended by a cancel, and the queue is empty again.
    assert.equal((await lab.post(`/v1/jobs/${id}/cancel`, {})).status, 200);
    assert.equal((await lab.post('/v1/slots/s1/release', { note: 'scope gone' }, OPERATOR_TOKEN)).status, 200);
    const released = await scrape(lab.agent.url);
    assert.equal(value(released, 'labslot_slot_held', { slot: 's1', source: '' }), 0);
    assert.equal(sampleValue(released, 'labslot_slot_hold_age_seconds', { slot: 's1' }), undefined);
    assert.equal(
      value(released, 'labslot_hold_duration_seconds_count', { slot: 's1', target: 'alpha', source: 'operator' }),
      1,
    );
    assert.ok(value(released, 'labslot_hold_duration_seconds_sum', { slot: 's1', source: 'operator' }) >= 0.3);
    assert.equal(
      value(released, 'labslot_jobs_ended_total', { target: 'alpha', state: 'cancelled', ended_by: 'cancel' }),
      1,
    );
    assert.deepEqual(
      [
        value(released, 'labslot_queue_jobs', { target: 'alpha' }),
        value(released, 'labslot_queue_oldest_age_seconds', { target: 'alpha' }),
      ],
      [0, 0],
    );
  });

  it('counts a job run to completion and its lease, and times device checks', async (t) => {
    const lab = await labWith(t, [{ name: 's1', target: 'alpha' }]);
    if (!lab) return;
    const id = await lab.submit({ target: 'alpha', argv: ['true'] });
    assert.equal((await lab.waitDone(id)).state, 'succeeded');
    // The job is done when its final state is written; the slot is idle in the same transaction.
    const after = await scrape(lab.agent.url);
    assert.equal(
      value(after, 'labslot_jobs_ended_total', { target: 'alpha', state: 'succeeded', ended_by: 'exit' }),
      1,
    );
    assert.equal(sampleValue(after, 'labslot_jobs_ended_total', { state: 'failed' }), undefined);
    assert.equal(value(after, 'labslot_leases_started_total', { slot: 's1', target: 'alpha' }), 1);
    assert.equal(value(after, 'labslot_leases_ended_total', { slot: 's1', result: 'completed' }), 1);
    assert.equal(value(after, 'labslot_slot_usage', { slot: 's1', usage: 'idle' }), 1);

    // The start's check and the pre-lease check, each with a duration under the 10 s health timeout.
    const checks = value(after, 'labslot_device_check_duration_seconds_count', { device: 's1-con', kind: 'serial' });
    assert.ok(checks >= 2, `${checks} checks observed`);
    const bounds = after
      .flatMap((f) => f.samples)
      .filter((s) => s.name === 'labslot_device_check_duration_seconds_bucket' && s.labels['device'] === 's1-con');
    assert.deepEqual(
      bounds.slice(0, 3).map((s) => Number(s.labels['le'])),
      [0.001, 0.0025, 0.005],
    );
    assert.equal(
      bounds.find((s) => Number(s.labels['le']) === 10)?.value,
      checks,
      'every check took less than the timeout',
    );
    assert.equal(value(after, 'labslot_device_check_failures_total', { device: 's1-con', class: 'not-present' }), 0);
  });

  it('shows a device whose console went away as unhealthy, failing as not-present', async (t) => {
    const lab = await labWith(t, [{ name: 's1', target: 'alpha' }]);
    if (!lab) return;
    rmSync(lab.consoles.get('s1')?.device ?? assert.fail('no console'));
    // failure_threshold is 3 in the job lab: three manual checks make the device unhealthy.
    for (let i = 0; i < 3; i += 1) assert.equal((await lab.post('/v1/slots/s1/check', {}, OPERATOR_TOKEN)).status, 200);
    const sick = await scrape(lab.agent.url);
    assert.equal(
      value(sick, 'labslot_device_check_failures_total', { device: 's1-con', kind: 'serial', class: 'not-present' }),
      3,
    );
    assert.equal(value(sick, 'labslot_device_check_failures_total', { device: 's1-con', class: 'timeout' }), 0);
    assert.equal(value(sick, 'labslot_device_health', { device: 's1-con', kind: 'serial', health: 'unhealthy' }), 1);
    assert.equal(value(sick, 'labslot_device_health', { device: 's1-con', health: 'healthy' }), 0);
    assert.equal(value(sick, 'labslot_slot_health', { slot: 's1', target: 'alpha', health: 'unhealthy' }), 1);
  });

  it('keeps answering when a slot has no row or an event carries odd data', async (t) => {
    const lab = await labWith(t, [
      { name: 's1', target: 'alpha' },
      { name: 's2', target: 'beta' },
    ]);
    if (!lab) return;
    const db = new Database(join(lab.stateDir, 'labslot.db'));
    t.after(() => db.close());
    db.pragma('busy_timeout = 5000');
    db.prepare("DELETE FROM slots WHERE name = 's2'").run();
    const odd = db.prepare('INSERT INTO events (at, type, slot, message, data) VALUES (?, ?, ?, ?, ?)');
    odd.run(Date.now(), 'slot.released', 's1', 'odd', JSON.stringify({ held_for_ms: 'a while', hold: 'operator' }));
    odd.run(Date.now(), 'slot.held', 'nowhere', 'odd', 'not json at all');
    odd.run(
      Date.now(),
      'job.cancelled',
      null,
      'odd',
      JSON.stringify({ job_end: { state: 'cancelled', ended_by: 'cancel' } }),
    );
    const families = await scrape(lab.agent.url);
    assert.equal(value(families, 'labslot_slot_usage', { slot: 's1', usage: 'idle' }), 1);
    assert.equal(
      sampleValue(families, 'labslot_slot_usage', { slot: 's2', usage: 'idle' }),
      undefined,
      'a slot without a row has no usage',
    );
    assert.equal(value(families, 'labslot_slot_health', { slot: 's2', health: 'healthy' }), 1);
    assert.equal(value(families, 'labslot_jobs_ended_total', { target: '', state: 'cancelled' }), 1);
    for (const collector of ['slots', 'queue', 'events'])
      assert.equal(value(families, 'labslot_metrics_collector_errors_total', { collector }), 0);
    // Every labslot metric explains itself.
    const ours = families.filter((f) => f.name.startsWith('labslot_'));
    assert.ok(ours.length >= 15);
    for (const family of ours) assert.ok(family.help.length > 20, `${family.name} has HELP text`);
  });

  it('counts a lease whose cleanup failed twice before it completed as one lease ended and two cleanup failures', async (t) => {
    if (!requires(t, PROMETHEUS_PARSER)) return;
    const { lab, db } = labFixture(
      t,
      tempDir(t),
      '[devices.c]\nkind = "command"\nargv = ["true"]\n[slots.s1]\ntarget = "tb"\ndevices = ["c"]\n',
    );
    const registry = new Registry();
    const metrics = new EventMetrics(lab, db, registry, Date.now() - 1);
    const job = submitJob(db, lab, jobRequestSchema.parse({ target: 'tb', argv: ['true'] }), 'test');
    const slot = lab.slots.get('s1');
    assert.ok(slot !== undefined && claimSlot(db, job.id, slot));
    const lease = { jobId: job.id, workerId: 'w1', slot: 's1' };
    recordWorker(db, {
      id: 'w1',
      jobId: job.id,
      slot: 's1',
      username: 'ls-w1',
      tokenHash: 'x',
      rootDir: '/nonexistent',
    });
    markRunning(db, job.id, 'w1', 's1');
    const outcome = decideOutcome({ code: 0, signal: null }, undefined);
    markCleaning(db, lease, 'running', outcome);
    // The reconciler records each distinct cleanup error, then a retry succeeds.
    recordCleanupFailure(db, lease, outcome, new Error('userdel: user ls-w1 is currently used by process 123'));
    recordCleanupFailure(db, lease, outcome, new Error('userdel: user ls-w1 is currently used by process 456'));
    completeLease(db, lease, 'cleaning', outcome);
    metrics.refresh();
    const families = parsePrometheusText(await registry.metrics());
    assert.equal(value(families, 'labslot_leases_started_total', { slot: 's1' }), 1);
    assert.equal(value(families, 'labslot_leases_ended_total', { slot: 's1', result: 'completed' }), 1);
    assert.equal(
      sampleValue(families, 'labslot_leases_ended_total', { slot: 's1', result: 'cleanup-failed' }),
      undefined,
    );
    assert.equal(value(families, 'labslot_cleanup_failures_total', { slot: 's1' }), 2);
    assert.equal(
      value(families, 'labslot_jobs_ended_total', { target: 'tb', state: 'succeeded', ended_by: 'exit' }),
      1,
    );
  });

  it('wants a token beyond loopback, as the read-only API does', async (t) => {
    if (!requires(t, PROMETHEUS_PARSER)) return;
    const agent = await startAgent(t, {
      config: join(PROJECT_ROOT, 'slots.example.toml'),
      stateDir: tempDir(t),
      listen: '0.0.0.0:0',
    });
    const anonymous = await fetch(`${agent.url}/metrics`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(anonymous.status, 401);
    assert.equal(((await anonymous.json()) as { error: { code: string } }).error.code, 'unauthorized');
    const wrong = await fetch(`${agent.url}/metrics`, {
      headers: { authorization: 'Bearer not-a-token' },
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(wrong.status, 401);
    const families = await scrape(agent.url, { authorization: 'Bearer demo-submitter-token' });
    assert.equal(value(families, 'labslot_slot_held', { slot: 'gimlet-1', source: '' }), 0);
    assert.equal(await agent.stop(), 0);
  });
});
