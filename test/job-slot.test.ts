// `labslot job run --slot NAME` against a real agent that runs jobs (root
// only): three idle slots of one target, and the job always lands on the one
// it named, waits while that one is busy, is refused for an unknown or held
// slot, and runs on a held slot only for an operator's --allow-held (the hold
// stays, the job and its lease event record who allowed it). And the first
// thing `job run` says about a job that ends at once is its slot and worker,
// before any byte of its output.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it, type TestContext } from 'node:test';
import type { JobView } from './helpers/api-types.js';
import { LABSLOT_BIN, PROJECT_ROOT } from './helpers/cli.js';
import { eventually } from './helpers/eventually.js';
import { cli, NOT_IN_A_JOB, spawnCli } from './helpers/job-cli.js';
import { jobLab, OPERATOR_TOKEN, SUBMITTER_TOKEN, type JobLab } from './helpers/job-lab.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';

async function benchLab(t: TestContext): Promise<JobLab | undefined> {
  if (!requires(t, ROOT, command('useradd', ['--help']), command('socat', ['-V']), command('bwrap', ['--version'])))
    return undefined;
  return jobLab(
    t,
    ['bench-1', 'bench-2', 'bench-3'].map((name) => ({ name, target: 'bench' })),
    '',
    'timeout = "2m"\nstop_grace = "1s"',
  );
}

function env(lab: JobLab, token = SUBMITTER_TOKEN): NodeJS.ProcessEnv {
  return { LABSLOT_URL: lab.agent.url, LABSLOT_TOKEN: token };
}

/** `labslot ARGS 2>&1`: stderr and stdout in one pipe, in the order the CLI wrote them. */
function combined(
  args: readonly string[],
  environment: NodeJS.ProcessEnv,
): Promise<{ code: number | null; text: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', 'exec "$0" "$@" 2>&1', process.execPath, LABSLOT_BIN, ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...NOT_IN_A_JOB, ...environment },
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 60_000,
    });
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, text }));
  });
}

function jobId(stderr: string): string {
  const id = /^labslot: job (\S+) queued for /m.exec(stderr)?.[1];
  assert.ok(id !== undefined, stderr);
  return id;
}

describe('job run --slot against a real agent', () => {
  it('runs on the named slot every time, though lower-named slots of the target are idle', async (t) => {
    const lab = await benchLab(t);
    if (!lab) return;
    for (let round = 0; round < 3; round += 1) {
      const run = await cli(
        ['job', 'run', '--slot', 'bench-3', '--', 'sh', '-c', 'printf %s "$LABSLOT_SLOT"'],
        env(lab),
      );
      assert.deepEqual([run.code, run.stdout], [0, 'bench-3'], run.stderr);
      assert.match(run.stderr, /^labslot: job \S+ queued for slot bench-3\n/);
      const view: JobView = await lab.job(jobId(run.stderr));
      assert.deepEqual([view.slot, view.requested_slot, view.target], ['bench-3', 'bench-3', 'bench']);
    }
    // Without --slot the same job goes to the first free slot by name: --slot is what chose bench-3.
    const any = await cli(['job', 'run', '--target', 'bench', '--', 'sh', '-c', 'printf %s "$LABSLOT_SLOT"'], env(lab));
    assert.deepEqual([any.code, any.stdout], [0, 'bench-1'], any.stderr);
  });

  it('waits while the named slot is busy, saying why, and then runs there', async (t) => {
    const lab = await benchLab(t);
    if (!lab) return;
    const busy = await lab.submit({ slot: 'bench-2', argv: ['sleep', '3'] });
    await eventually(async () => (await lab.job(busy)).state === 'running', { message: 'the first job to run' });
    const run = spawnCli(
      t,
      ['job', 'run', '--slot', 'bench-2', '--', 'sh', '-c', 'printf %s "$LABSLOT_SLOT"'],
      env(lab),
    );
    await eventually(() => run.stderr().includes('waiting: slot bench-2: in use (running)'), {
      timeoutMs: 15_000,
      message: () => `job run to say why it waits: ${run.stderr()}`,
    });
    assert.equal(await run.exited, 0, run.stderr());
    assert.equal(run.stdout().toString(), 'bench-2');
    assert.equal((await lab.job(busy)).done, true, 'it ran only after the first job was done');
  });

  it('refuses an unknown slot (exit 2) and a held one (exit 1, naming the hold), and queues nothing', async (t) => {
    const lab = await benchLab(t);
    if (!lab) return;
    const unknown = await cli(['job', 'run', '--slot', 'bench-9', '--', 'true'], env(lab));
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.equal(unknown.stderr, 'labslot: no slot named "bench-9" (slots: bench-1, bench-2, bench-3)\n');
    const other = await cli(['job', 'run', '--target', 'gimlet', '--slot', 'bench-1', '--', 'true'], env(lab));
    assert.equal(other.code, 2, other.stderr);
    assert.match(other.stderr, /^labslot: slot: slot "bench-1" serves target "bench", not target "gimlet"/);

    const held = await lab.post('/v1/slots/bench-2/hold', { reason: 'probe reseated', by: 'alice' }, OPERATOR_TOKEN);
    assert.equal(held.status, 200, JSON.stringify(held.json));
    const refused = await cli(['job', 'run', '--slot', 'bench-2', '--', 'true'], env(lab));
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(
      refused.stderr,
      /^labslot: slot bench-2 is held by operator alice \(operator:[0-9a-f]{8}\) since \S+: probe reseated; /,
    );
    assert.match(refused.stderr, /--allow-held/);
    const submitter = await cli(['job', 'run', '--slot', 'bench-2', '--allow-held', '--', 'true'], env(lab));
    assert.equal(submitter.code, 1, submitter.stderr);
    assert.match(submitter.stderr, /^labslot: "allow_held" needs an operator token/);
    const { jobs } = (await (
      await fetch(`${lab.agent.url}/v1/jobs`, { headers: { authorization: `Bearer ${SUBMITTER_TOKEN}` } })
    ).json()) as { jobs: JobView[] };
    assert.deepEqual(jobs, [], 'no refused job was queued');
  });

  it("runs on a held slot for an operator's --allow-held: the hold stays, the job and its lease record who", async (t) => {
    const lab = await benchLab(t);
    if (!lab) return;
    const held = await lab.post('/v1/slots/bench-2/hold', { reason: 'flaky SP console', by: 'alice' }, OPERATOR_TOKEN);
    assert.equal(held.status, 200, JSON.stringify(held.json));
    const run = await cli(
      ['job', 'run', '--slot', 'bench-2', '--allow-held', '--', 'sh', '-c', 'printf %s "$LABSLOT_SLOT"'],
      env(lab, OPERATOR_TOKEN),
    );
    assert.deepEqual([run.code, run.stdout], [0, 'bench-2'], run.stderr);
    const id = jobId(run.stderr);
    const view = await lab.job(id);
    assert.match(view.allow_held_by ?? '', /^operator:[0-9a-f]{8}$/);
    const status = await cli(['job', 'status', id], env(lab));
    assert.match(status.stdout, /^asked for\s+slot bench-2, held or not \(allowed by operator:[0-9a-f]{8}\)$/m);
    const slot = await lab.slot('bench-2');
    assert.deepEqual([slot.hold?.reason, slot.usage], ['flaky SP console', 'idle'], 'the hold is still there');
    const leased = (await lab.events('&slot=bench-2')).find((e) => e.type === 'slot.leased' && e.job_id === id);
    assert.ok(leased, 'the lease event');
    const data = leased.data ?? {};
    assert.equal(data['allowed_by'], view.allow_held_by);
    assert.deepEqual(data['held'], slot.hold, 'the lease event carries the hold it ran under');
    assert.match(leased.message, /while held \(allowed by operator:[0-9a-f]{8}\); the hold stays/);
    // Still out of rotation: a job for the target goes elsewhere.
    const any = await cli(['job', 'run', '--target', 'bench', '--', 'sh', '-c', 'printf %s "$LABSLOT_SLOT"'], env(lab));
    assert.deepEqual([any.code, any.stdout], [0, 'bench-1'], any.stderr);
  });

  it('says the slot and worker of a job that ends at once, exactly once and before its output', async (t) => {
    const lab = await benchLab(t);
    if (!lab) return;
    for (let round = 0; round < 5; round += 1) {
      const quiet = await combined(['job', 'run', '--slot', 'bench-1', '--', 'true'], env(lab));
      assert.equal(quiet.code, 0, quiet.text);
      const [queued, got, ...rest] = quiet.text.split('\n');
      const id = /^labslot: job (\S+) queued for slot bench-1$/.exec(queued ?? '')?.[1];
      assert.ok(id !== undefined, quiet.text);
      const job: JobView = await lab.job(id);
      const worker: string | null = job.worker_id;
      assert.ok(worker !== null, quiet.text);
      assert.equal(got, `labslot: job ${id} got slot bench-1, worker ${worker}`, quiet.text);
      assert.deepEqual(rest, [''], quiet.text);

      const fast = await combined(['job', 'run', '--target', 'bench', '--', 'echo', 'fast'], env(lab));
      assert.equal(fast.code, 0, fast.text);
      assert.match(
        fast.text,
        /^labslot: job \S+ queued for bench\nlabslot: job \S+ got slot bench-\d, worker \S+\nfast\n$/,
      );
    }
  });
});
