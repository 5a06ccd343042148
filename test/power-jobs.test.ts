// Power from inside a job and from an operator, against a real agent running
// real jobs and a real pdudaemon whose localcmdline outlets write each switch
// to a log ("on 1", "off 3"): a job switches exactly its own slot's outlets,
// another slot's is refused by name, an operator's switch is audited, and
// `power_after_job` leaves the outlet as the slot's config says (a failing
// switch holds the slot), also after a restarted agent cleans up a killed one's job.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCli } from './helpers/cli.js';
import { eventually } from './helpers/eventually.js';
import { NOT_IN_A_JOB } from './helpers/job-cli.js';
import { jobLab, OPERATOR_TOKEN, type JobLab } from './helpers/job-lab.js';
import { startPdudaemon, type Pdudaemon } from './helpers/pdudaemon.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';
import { tempDir } from './helpers/temp-dir.js';

const PREREQUISITES = [
  ROOT,
  command('pdudaemon', ['--help']),
  command('socat', ['-V']),
  command('bwrap', ['--version']),
] as const;

/** A pdudaemon outlet of the daemon's one PDU; a cycle waits 1 s between off and on. */
function outlet(name: string, pdu: Pdudaemon, port: number): string {
  return `[devices.${name}]\nkind = "power"\ndriver = "pdudaemon"\nurl = "${pdu.url}"\npdu = "${pdu.pdu}"\nport = ${port}\ndelay = "1s"\n`;
}

/** Runs `script` as a job of the target and returns the exit code its `labslot` call printed, and the output. */
async function inJob(lab: JobLab, target: string, script: string): Promise<{ code: number; output: string }> {
  const id = await lab.submit({ target, script: `${script}\necho "exit=$?"` });
  const job = await lab.waitDone(id, 60_000);
  const output = await lab.output(id);
  const code = /^exit=(\d+)$/m.exec(output)?.[1];
  assert.ok(code !== undefined, `job ${JSON.stringify(job)}\n${output}`);
  return { code: Number(code), output };
}

describe('power switching with a real pdudaemon', () => {
  it("lets a job switch exactly its own slot's outlets, refuses another slot's by name, and audits an operator's switch", async (t) => {
    if (!requires(t, ...PREREQUISITES)) return;
    const pdu = await startPdudaemon(t, tempDir(t));
    const lab = await jobLab(
      t,
      [
        { name: 'pa-1', target: 'pa', devices: ['pa-1-power', 'pa-1-aux-power'] },
        { name: 'pb-1', target: 'pb', devices: ['pb-1-power'] },
      ],
      outlet('pa-1-power', pdu, 1) + outlet('pa-1-aux-power', pdu, 2) + outlet('pb-1-power', pdu, 3),
    );

    const cycle = await inJob(lab, 'pa', 'labslot worker power cycle pa-1-power');
    assert.equal(cycle.code, 0, cycle.output);
    assert.match(cycle.output, /^labslot: power cycle sent to pa-1-power \(slot pa-1\)$/m);
    // pdudaemon only accepts the request; its outlet commands run after (off, the 1 s delay, on).
    await eventually(() => pdu.switched().length >= 2, { timeoutMs: 15_000, message: () => pdu.switched().join(',') });
    assert.deepEqual(pdu.switched(), ['off 1', 'on 1'], 'a cycle of outlet 1, and nothing of outlets 2 and 3');

    const refused = await inJob(lab, 'pa', 'labslot worker power off pb-1-power');
    assert.equal(refused.code, 1, refused.output);
    assert.match(
      refused.output,
      /^labslot: power device pb-1-power belongs to slot pb-1, not to this job's slot pa-1$/m,
    );

    const all = await inJob(lab, 'pa', 'labslot worker power on');
    assert.equal(all.code, 0, all.output);
    assert.match(all.output, /power on sent to pa-1-power, pa-1-aux-power \(slot pa-1\)/);
    await eventually(() => pdu.switched().length >= 4, { timeoutMs: 15_000, message: () => pdu.switched().join(',') });
    assert.deepEqual(pdu.switched().slice(2).sort(), ['on 1', 'on 2']);

    const operator = await runCli(['power', 'off', 'pb-1', '--json'], {
      env: { ...NOT_IN_A_JOB, LABSLOT_URL: lab.agent.url, LABSLOT_TOKEN: OPERATOR_TOKEN },
    });
    assert.equal(operator.code, 0, operator.stderr);
    assert.deepEqual(JSON.parse(operator.stdout), { slot: 'pb-1', action: 'off', devices: ['pb-1-power'] });
    await eventually(() => pdu.switched().length >= 5, { timeoutMs: 15_000, message: () => pdu.switched().join(',') });
    assert.deepEqual(pdu.switched().slice(4), ['off 3']);
    // Nothing but these five switches: the refused one switched nothing.
    assert.equal(pdu.switched().length, 5, pdu.switched().join(','));

    const events = (await lab.events()).filter((e) => e.type.startsWith('slot.power'));
    const byOperator = events.filter((e) => e.slot === 'pb-1');
    assert.equal(byOperator.length, 1, JSON.stringify(events));
    assert.match(byOperator[0]?.actor ?? '', /^operator:[0-9a-f]{8}$/);
    assert.match(byOperator[0]?.message ?? '', /^power off of pb-1-power in pb-1 by \S+@\S+ \(operator:[0-9a-f]{8}\)$/);
    const byJobs = events.filter((e) => e.slot === 'pa-1');
    assert.deepEqual(byJobs.map((e) => `${e.type} ${e.device}`).sort(), [
      'slot.power pa-1-aux-power',
      'slot.power pa-1-power',
      'slot.power pa-1-power',
    ]);
    for (const event of byJobs) {
      assert.ok(event.job_id !== null && event.worker_id !== null, JSON.stringify(event));
      assert.equal(event.actor, `worker:${event.worker_id}`);
    }
  });

  it('leaves the outlet off after each job with power_after_job = "off", and holds a slot whose outlet could not be set', async (t) => {
    if (!requires(t, ...PREREQUISITES)) return;
    const pdu = await startPdudaemon(t, tempDir(t));
    const lab = await jobLab(
      t,
      [
        { name: 'pc-1', target: 'pc', devices: ['pc-1-power'], extra: 'power_after_job = "off"' },
        { name: 'pd-1', target: 'pd', devices: ['pd-1-power'], extra: 'power_after_job = "off"' },
      ],
      outlet('pc-1-power', pdu, 4) +
        '[devices.pd-1-power]\nkind = "power"\ndriver = "command"\non = ["true"]\noff = ["sh", "-c", "echo relay stuck >&2; exit 4"]\nstatus = ["true"]\n',
    );

    // The job switches its board on; after it, the slot's config switches it off again.
    const on = await inJob(lab, 'pc', 'labslot worker power on');
    assert.equal(on.code, 0, on.output);
    await eventually(() => pdu.switched().length >= 2, { timeoutMs: 15_000, message: () => pdu.switched().join(',') });
    assert.deepEqual(pdu.switched(), ['on 4', 'off 4']);
    const after = (await lab.events()).filter((e) => e.type === 'slot.power' && e.slot === 'pc-1').at(-1);
    assert.match(after?.message ?? '', /^power off of pc-1-power in pc-1 by power_after_job$/);
    await eventually(async () => (await lab.slot('pc-1')).usage === 'idle', { message: 'pc-1 idle again' });
    assert.equal((await lab.slot('pc-1')).hold, null);

    const id = await lab.submit({ target: 'pd', argv: ['true'] });
    await lab.waitDone(id, 60_000);
    const held = await eventually(async () => (await lab.slot('pd-1')).hold ?? false, { message: 'pd-1 held' });
    assert.equal(held.source, 'system');
    assert.match(
      held.reason,
      /^power_after_job = "off" failed after job \S+: power off in pd-1 failed: pd-1-power: .*exit 4 relay stuck/,
    );
  });

  it('leaves the outlet as power_after_job says when a restarted agent finishes the cleanup of a killed one', async (t) => {
    if (!requires(t, ...PREREQUISITES)) return;
    const pdu = await startPdudaemon(t, tempDir(t));
    const lab = await jobLab(
      t,
      [{ name: 'pe-1', target: 'pe', devices: ['pe-1-power'], extra: 'power_after_job = "off"' }],
      outlet('pe-1-power', pdu, 5),
    );
    const id = await lab.submit({ target: 'pe', script: 'echo started\nsleep 1000' });
    await lab.waitOutput(id, /started/);
    await lab.agent.stop('SIGKILL');
    assert.deepEqual(pdu.switched(), [], 'nothing switched the outlet before the restart');

    await lab.restart();
    assert.equal((await lab.waitDone(id, 60_000)).end_reason, 'agent restarted');
    await eventually(() => pdu.switched().length >= 1, { timeoutMs: 15_000, message: () => pdu.switched().join(',') });
    assert.deepEqual(pdu.switched(), ['off 5']);
    await eventually(async () => (await lab.slot('pe-1')).usage === 'idle', { message: 'pe-1 idle again' });
  });
});
