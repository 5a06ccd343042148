// Exit-code scenarios of the client commands against a real agent on real
// PTY consoles (jobs run as real throwaway users).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPERATOR_TOKEN, type JobLab } from '../job-lab.js';
import { cli, type Outcome, type Scenario, type Scenarios } from './table.js';

export interface LabContext {
  lab: JobLab;
  operator: NodeJS.ProcessEnv;
  submitter: NodeJS.ProcessEnv;
  /** A job that succeeded and kept no outputs. */
  done: string;
  /** A job that succeeded and kept a file under $LABSLOT_OUTPUT. */
  withOutputs: string;
}

/**
 * The scenarios that hold psc-1 (or need it free) run one at a time: the table runs four
 * scenarios at once, and one's release must not land between another's hold
 * and its submission (the job would then run instead of being refused).
 */
let psc1 = Promise.resolve();
function withPsc1Held<T>(run: () => Promise<T>): Promise<T> {
  const turn = psc1.then(run);
  psc1 = turn.then(
    () => undefined,
    () => undefined,
  );
  return turn;
}

async function holdPsc1(c: LabContext): Promise<void> {
  const { status } = await c.lab.post(
    '/v1/slots/psc-1/hold',
    { reason: 'held for the exit-code table' },
    OPERATOR_TOKEN,
  );
  // 409: held already (the mark-broken row's job holds it): held either way, which is what the scenario needs.
  assert.ok(status === 200 || status === 409, `psc-1 could not be held for the scenario (${status})`);
}

export const LAB_SCENARIOS: Scenarios<LabContext> = new Map<string, Scenario<LabContext>>([
  [
    'labslot slots — the agent answers',
    {
      run: async (c) => [await cli(['slots'], c.submitter), await cli(['slots', '--json'], c.submitter)],
    },
  ],
  [
    'labslot slot hold SLOT -m REASON — the slot was not held; now it is',
    {
      run: async (c) => {
        await c.lab.post('/v1/slots/sidecar-1/release', {}, OPERATOR_TOKEN);
        await c.lab.post('/v1/slots/sidecar-5/release', {}, OPERATOR_TOKEN);
        return [
          await cli(['slot', 'hold', 'sidecar-1', '-m', 'reseating the probe'], c.operator),
          await cli(['slot', 'hold', 'sidecar-5', '-m', 'reseating', '--json'], c.operator),
        ];
      },
    },
  ],
  [
    'labslot slot hold SLOT -m REASON — the slot is held already (and no `--replace`)',
    {
      run: async (c) => {
        await c.lab.post('/v1/slots/sidecar-2/hold', { reason: 'first' }, OPERATOR_TOKEN);
        return [await cli(['slot', 'hold', 'sidecar-2', '-m', 'second'], c.operator)];
      },
    },
  ],
  [
    "labslot slot hold SLOT -m REASON — no token, or not an operator's",
    {
      run: async (c) => [
        await cli(['slot', 'hold', 'sidecar-3', '-m', 'x'], { ...c.operator, LABSLOT_TOKEN: '' }),
        await cli(['slot', 'hold', 'sidecar-3', '-m', 'x'], c.submitter),
      ],
    },
  ],
  [
    'labslot slot hold nope -m REASON — no slot of that name',
    { run: async (c) => [await cli(['slot', 'hold', 'nope', '-m', 'x'], c.operator)] },
  ],
  [
    'labslot slot release SLOT — the slot was held; whatever its fresh check says',
    {
      run: async (c) => {
        await c.lab.post('/v1/slots/sidecar-4/hold', { reason: 'to be released' }, OPERATOR_TOKEN);
        return [await cli(['slot', 'release', 'sidecar-4', '-m', 'fine again', '--json'], c.operator)];
      },
    },
  ],
  [
    'labslot slot release SLOT — the slot is not held',
    { run: async (c) => [await cli(['slot', 'release', 'sidecar-3'], c.operator)] },
  ],
  [
    'labslot slot release nope — no slot of that name',
    { run: async (c) => [await cli(['slot', 'release', 'nope'], c.operator)] },
  ],
  [
    'labslot job run --target TARGET -- true — the job succeeds',
    {
      run: async (c) => [await cli(['job', 'run', '--target', 'gimlet', '--', 'true'], c.submitter, 90_000)],
    },
  ],
  [
    "labslot job run --target TARGET -- sh -c 'exit 3' — the job ends by its own exit code (1 to 255)",
    {
      run: async (c) => [
        await cli(['job', 'run', '--target', 'gimlet', '--', 'sh', '-c', 'exit 3'], c.submitter, 90_000),
      ],
    },
  ],
  [
    "labslot job run --target TARGET --timeout 1s -- sleep 60 — the job times out, is killed by a signal or cancelled, or fails for the lab's reasons (`worker mark-broken`, setup)",
    {
      run: async (c) => [
        await cli(['job', 'run', '--target', 'gimlet', '--timeout', '1s', '--', 'sleep', '60'], c.submitter, 90_000),
      ],
    },
  ],
  [
    'labslot job run --target nope -- true — no slot serves the target',
    { run: async (c) => [await cli(['job', 'run', '--target', 'nope', '--', 'true'], c.submitter)] },
  ],
  [
    'labslot job run --slot nope -- true — no slot of that name',
    {
      run: async (c) => [
        await cli(['job', 'run', '--slot', 'nope', '--', 'true'], c.submitter),
        await cli(['job', 'submit', '--slot', 'nope', '--', 'true'], c.submitter),
      ],
    },
  ],
  [
    'labslot job run --target TARGET --slot SLOT -- true — the slot serves another target',
    {
      run: async (c) => [await cli(['job', 'run', '--target', 'gimlet', '--slot', 'psc-1', '--', 'true'], c.submitter)],
    },
  ],
  [
    'labslot job run --slot SLOT -- true — the slot is held (and no `--allow-held` by an operator)',
    {
      run: (c) =>
        withPsc1Held(async () => {
          // psc-1 runs a job further down (mark-broken): it is released again here.
          await holdPsc1(c);
          const refused = await cli(['job', 'run', '--slot', 'psc-1', '--', 'true'], c.submitter);
          await c.lab.post('/v1/slots/psc-1/release', {}, OPERATOR_TOKEN);
          return [refused];
        }),
    },
  ],
  [
    "labslot job run --slot SLOT --allow-held -- true — the token is not an operator's",
    {
      run: (c) =>
        withPsc1Held(async () => {
          await holdPsc1(c);
          const refused = await cli(['job', 'run', '--slot', 'psc-1', '--allow-held', '--', 'true'], c.submitter);
          await c.lab.post('/v1/slots/psc-1/release', {}, OPERATOR_TOKEN);
          return [refused];
        }),
    },
  ],
  [
    'labslot job submit --target TARGET -- true — the job is queued',
    {
      run: async (c) => [
        await cli(['job', 'submit', '--target', 'gimlet', '--', 'true'], c.submitter),
        await cli(['job', 'submit', '--target', 'gimlet', '--json', '--', 'true'], c.submitter),
      ],
    },
  ],
  [
    'labslot job submit --target nope -- true — no slot serves the target',
    { run: async (c) => [await cli(['job', 'submit', '--target', 'nope', '--', 'true'], c.submitter)] },
  ],
  [
    'labslot job status ID — the job exists, whatever its state (a failed job too)',
    {
      run: async (c) => {
        const failed = await c.lab.submit({ target: 'gimlet', argv: ['false'] });
        await c.lab.waitDone(failed, 60_000);
        return [
          await cli(['job', 'status', c.done], c.submitter),
          await cli(['job', 'status', failed, '--json'], c.submitter),
        ];
      },
    },
  ],
  ['labslot job status nope — no such job', { run: async (c) => [await cli(['job', 'status', 'nope'], c.submitter)] }],
  [
    'labslot job logs ID — the job exists',
    {
      run: async (c) => [
        await cli(['job', 'logs', c.done], c.submitter),
        await cli(['job', 'logs', '-f', c.done], c.submitter),
      ],
    },
  ],
  ['labslot job logs nope — no such job', { run: async (c) => [await cli(['job', 'logs', 'nope'], c.submitter)] }],
  [
    'labslot job outputs ID -o DIR — the job kept outputs',
    {
      run: async (c) => {
        const dir = join(c.lab.dir, 'outputs');
        const fetched = await cli(['job', 'outputs', c.withOutputs, '-o', dir, '--json'], c.submitter);
        assert.equal(readFileSync(join(dir, 'result.txt'), 'utf8'), 'pass\n', fetched.output);
        return [fetched];
      },
    },
  ],
  [
    'labslot job outputs ID -o DIR — the job kept none, or has not finished',
    {
      run: async (c) => [await cli(['job', 'outputs', c.done, '-o', join(c.lab.dir, 'none')], c.submitter)],
    },
  ],
  [
    'labslot job cancel ID — the job was queued or running',
    {
      run: async (c) => {
        const id = await c.lab.submit({ target: 'gimlet', argv: ['sleep', '60'] });
        return [await cli(['job', 'cancel', id, '--json'], c.submitter)];
      },
    },
  ],
  [
    'labslot job cancel ID — the job is done already',
    { run: async (c) => [await cli(['job', 'cancel', c.done], c.submitter)] },
  ],
  [
    'labslot job list — always, also when no job matches',
    {
      run: async (c) => [
        await cli(['job', 'list'], c.submitter),
        await cli(['job', 'list', '--target', 'psc', '--state', 'cancelled', '--json'], c.submitter),
      ],
    },
  ],
  [
    'labslot job list --target nope — no slot serves the target, and no job ever had it',
    { run: async (c) => [await cli(['job', 'list', '--target', 'nope'], c.submitter)] },
  ],
  [
    'labslot worker mark-broken -m MESSAGE — inside a job: its slot is held',
    {
      // Its job needs psc-1 free: not while a scenario above holds it.
      run: (c) => withPsc1Held(async () => [await inJob(c, 'labslot worker mark-broken -m "probe gone"')]),
    },
  ],
  [
    "labslot worker mark-broken -m MESSAGE — the agent refuses the token (not this job's, or its job has ended)",
    {
      run: async (c) => [
        await cli(['worker', 'mark-broken', '-m', 'x'], {
          LABSLOT_URL: c.lab.agent.url,
          LABSLOT_TOKEN: 'not-a-worker-token',
          LABSLOT_WORKER: 'w-none',
          LABSLOT_SLOT: 'psc-1',
        }),
      ],
    },
  ],
  [
    "labslot worker power cycle — inside a job: its slot's outlets are switched",
    { run: async (c) => [await inJob(c, 'labslot worker power cycle', 'pwr')] },
  ],
  [
    "labslot worker power off DEVICE — inside a job: `DEVICE` is another slot's outlet",
    { run: async (c) => [await inJob(c, 'labslot worker power off gimlet-1-power', 'pwr')] },
  ],
  [
    "labslot power off SLOT — the slot's outlets are switched",
    {
      run: async (c) => [
        await cli(['power', 'off', 'pwr-1'], c.operator),
        await cli(['power', 'cycle', 'pwr-1', 'pwr-1-power', '--json'], c.operator),
      ],
    },
  ],
  [
    "labslot power off SLOT — an outlet's driver failed (pdudaemon unreachable, a command failed), or the slot has no power device",
    {
      run: async (c) => [
        await cli(['power', 'off', 'gimlet-1'], c.operator),
        await cli(['power', 'off', 'sidecar-1'], c.operator),
      ],
    },
  ],
  [
    'labslot power off SLOT nope — no slot, or no power device, of that name',
    {
      run: async (c) => [
        await cli(['power', 'off', 'pwr-1', 'nope'], c.operator),
        await cli(['power', 'off', 'nope'], c.operator),
      ],
    },
  ],
]);

/** Runs `script` as a job of `target` (psc, whose slot mark-broken holds, unless named); its own `labslot` (first on its PATH) reports its exit code in the job's output. */
async function inJob(c: LabContext, script: string, target = 'psc'): Promise<Outcome> {
  const id = await c.lab.submit({ target, script: `${script}\necho "exit=$?"` });
  const job = await c.lab.waitDone(id, 60_000);
  const output = await c.lab.output(id);
  const code = /^exit=(\d+)$/m.exec(output)?.[1];
  return { code: code === undefined ? null : Number(code), output: `job ${JSON.stringify(job)}\n${output}` };
}

/** Outlets for the power rows: pwr-1's switches (command driver), gimlet-1's cannot be switched off. */
export const POWER_TOML = ['pwr-1', 'gimlet-1']
  .map(
    (slot) =>
      `[devices.${slot}-power]\nkind = "power"\ndriver = "command"\non = ["true"]\noff = ["${slot === 'pwr-1' ? 'true' : 'false'}"]\nstatus = ["true"]\n`,
  )
  .join('');
