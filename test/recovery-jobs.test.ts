// Recovery and jobs (DESIGN §9, README "Recovery"), with real jobs, a real
// pdudaemon and boards behind its outlets (helpers/recovery-lab.ts): a slot a
// job is using is never recovered under it, however its devices fail, and
// recovery waits for the job's cleanup; a job's mark-broken hold is lifted by
// recovery under on_mark_broken = "recover-then-hold", and kept, untouched,
// under the default "hold".
import assert from 'node:assert/strict';
import { readlinkSync, symlinkSync, unlinkSync } from 'node:fs';
import { describe, it } from 'node:test';
import { eventually } from './helpers/eventually.js';
import { SUBMITTER_TOKEN, waitJobDone, waitJobOutput } from './helpers/job-api.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';
import { boardOf, recoveryLab, type RecoveryLab } from './helpers/recovery-lab.js';
import { tempDir } from './helpers/temp-dir.js';

const PREREQUISITES = [
  ROOT,
  command('pdudaemon', ['--help']),
  command('socat', ['-V']),
  command('bwrap', ['--version']),
];

/** The device's view in its slot, failing the test when it is not there. */
async function device(lab: RecoveryLab, slot: string, name: string) {
  const view = (await lab.slot(slot)).devices.find((d) => d.name === name);
  assert.ok(view !== undefined, `${slot} has no device ${name}`);
  return view;
}

/** The outlet log's lines for one outlet ("off 2", "on 2"). */
function switchesOf(lab: RecoveryLab, outlet: number): string[] {
  return lab.pdu.switched().filter((line) => line.endsWith(` ${outlet}`));
}

describe('recovery and jobs', () => {
  it('never recovers a slot under a running job; once its cleanup has ended, recovery runs', async (t) => {
    if (!requires(t, ...PREREQUISITES)) return;
    const lab = await recoveryLab(t, tempDir(t), [{ name: 'lj-1', target: 'lj' }]);
    const board = boardOf(lab, 'lj-1');
    const id = await lab.submit({ target: 'lj', script: 'echo started\nsleep 1000' });
    await waitJobOutput(lab.agent.url, id, /started/);

    // The console hangs and its link goes away (a re-plugged adapter) while the job runs: the passive
    // checks a leased slot gets see the missing tty, and the device turns unhealthy under the job.
    const tty = readlinkSync(board.device);
    board.wedge();
    unlinkSync(board.device);
    // Several failed checks after the transition: the recovery sweep (every second, and at once on the
    // transition) has looked at the slot more than once meanwhile.
    await eventually(
      async () => {
        const con = await device(lab, 'lj-1', 'lj-1-con');
        return con.health === 'unhealthy' && con.consecutive_failures >= 3;
      },
      { timeoutMs: 20_000, message: 'lj-1-con unhealthy for three checks' },
    );
    const during = await lab.slot('lj-1');
    assert.equal(during.usage, 'running');
    assert.deepEqual(
      during.events.filter((e) => e.type.startsWith('recovery.')).map((e) => e.message),
      [],
      'no recovery under the job',
    );
    assert.deepEqual(lab.pdu.switched(), [], 'and the outlet was not touched');

    // The tty is back but the console still hangs; the job ends and is cleaned up; then recovery runs.
    symlinkSync(tty, board.device);
    const cancel = await lab.post(`/v1/jobs/${id}/cancel`, {}, SUBMITTER_TOKEN);
    assert.ok(cancel.status < 300, JSON.stringify(cancel));
    await waitJobDone(lab.agent.url, id, 30_000);
    const idle = await lab.waitEvent('lj-1', 'slot.idle');
    const started = await lab.waitEvent('lj-1', 'recovery.started');
    assert.ok(started.id > idle.id, `recovery started (${started.id}) after the cleanup (${idle.id})`);
    await lab.waitEvent('lj-1', 'recovery.succeeded');
    assert.deepEqual(lab.pdu.switched(), ['off 1', 'on 1']);
    const after = await lab.slot('lj-1');
    assert.deepEqual({ usage: after.usage, hold: after.hold }, { usage: 'idle', hold: null });
  });

  it('lifts a mark-broken hold once recovery brings the slot back under "recover-then-hold", and keeps it under "hold"', async (t) => {
    if (!requires(t, ...PREREQUISITES)) return;
    const lab = await recoveryLab(t, tempDir(t), [
      { name: 'mr-1', target: 'mr', extra: 'on_mark_broken = "recover-then-hold"' },
      // [recovery] on_mark_broken is "hold" by default.
      { name: 'mh-1', target: 'mh' },
    ]);
    // Each job hangs its console with a bad command, as a test of the firmware might, and says so.
    const script = (con: string): string =>
      `echo started\nprintf 'crash\\r\\n' > "$LABSLOT_DEVICE_${con}"\nlabslot worker mark-broken -m "console hangs after crash"`;
    const jobs = [
      await lab.submit({ target: 'mr', script: script('MR_1_CON') }),
      await lab.submit({ target: 'mh', script: script('MH_1_CON') }),
    ];
    for (const id of jobs) {
      const job = await waitJobDone(lab.agent.url, id, 30_000);
      assert.equal(job.end_reason, 'marked broken: console hangs after crash', JSON.stringify(job));
    }

    // recover-then-hold: the job's hold waits for recovery, which power-cycles the board and lifts it.
    const released = await lab.waitEvent('mr-1', 'slot.released');
    assert.equal(released.actor, 'labslot recovery');
    assert.match(
      released.message,
      /^mr-1 released: recovered by power-cycle after the job marked it broken \(was held by job job /,
    );
    const recovered = await lab.slot('mr-1');
    assert.deepEqual(
      { usage: recovered.usage, hold: recovered.hold, health: recovered.health },
      { usage: 'idle', hold: null, health: 'healthy' },
    );
    assert.deepEqual(switchesOf(lab, 1), ['off 1', 'on 1']);
    assert.ok(boardOf(lab, 'mr-1').answering());
    const again = await lab.submit({ target: 'mr', argv: ['true'] });
    assert.deepEqual(await waitJobDone(lab.agent.url, again, 30_000).then((j) => [j.state, j.slot]), [
      'succeeded',
      'mr-1',
    ]);

    // hold: the hung console is found unhealthy after the job, and nothing tries to recover it.
    await eventually(
      async () => {
        const con = await device(lab, 'mh-1', 'mh-1-con');
        return con.health === 'unhealthy' && con.consecutive_failures >= 2;
      },
      { timeoutMs: 20_000, message: 'mh-1-con unhealthy for two checks after the job' },
    );
    const held = await lab.slot('mh-1');
    assert.deepEqual(
      { source: held.hold?.source, reason: held.hold?.reason },
      { source: 'job', reason: 'console hangs after crash' },
    );
    const mhEvents = await lab.events('mh-1');
    assert.deepEqual(
      mhEvents.filter((e) => e.type.startsWith('recovery.') || e.type === 'slot.released').map((e) => e.message),
      [],
    );
    assert.deepEqual(switchesOf(lab, 2), [], "mh-1's outlet was never switched");
  });
});
