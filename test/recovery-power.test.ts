// Recovery by power cycle (DESIGN §9, README "Recovery") in an emulated lab
// whose PDU is real: pdudaemon's localcmdline outlet commands write each switch
// to a log, and the board behind the outlet goes silent when it is off and
// answers again a second after it is back on. A wedged console is brought back
// by the agent with no hold and nobody involved; a dead one is cycled as often
// as [recovery] max_attempts allows and then held, with what was tried.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitJobDone } from './helpers/job-api.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';
import { PROMETHEUS_PARSER, sampleValue } from './helpers/prometheus-text.js';
import { boardOf, recoveryLab } from './helpers/recovery-lab.js';
import { tempDir } from './helpers/temp-dir.js';

const PREREQUISITES = [
  ROOT,
  command('pdudaemon', ['--help']),
  command('socat', ['-V']),
  command('bwrap', ['--version']),
  PROMETHEUS_PARSER,
] as const;

describe('recovery by power cycle through a real pdudaemon', () => {
  it('power-cycles a silent console back to life, returns the slot to rotation with no hold, and counts it', async (t) => {
    if (!requires(t, ...PREREQUISITES)) return;
    const lab = await recoveryLab(t, tempDir(t), [{ name: 'pw-1', target: 'pw' }]);
    const board = boardOf(lab, 'pw-1');
    assert.deepEqual(lab.pdu.switched(), [], 'nothing switched before the console hung');

    board.wedge();
    const succeeded = await lab.waitEvent('pw-1', 'recovery.succeeded');
    // The outlet really went off and on: the outlet commands ran (their log), and the board saw it.
    assert.deepEqual(lab.pdu.switched(), ['off 1', 'on 1']);
    assert.deepEqual(
      board.switches().map((s) => s.action),
      ['off', 'on'],
    );
    assert.ok(board.answering(), 'the console answers again');

    const slot = await lab.slot('pw-1');
    assert.deepEqual(
      { usage: slot.usage, hold: slot.hold, health: slot.health },
      { usage: 'idle', hold: null, health: 'healthy' },
    );
    const events = (await lab.events('pw-1')).filter((e) => e.id <= succeeded.id);
    const story = events.filter((e) => e.type.startsWith('recovery.') || e.type === 'slot.power');
    assert.deepEqual(
      story.map((e) => e.type),
      ['recovery.started', 'recovery.round', 'slot.power', 'recovery.step', 'recovery.succeeded'],
      story.map((e) => `${e.type}: ${e.message}`).join('\n'),
    );
    assert.match(story[0]?.message ?? '', /^pw-1: recovering pw-1-con$/);
    assert.match(story[2]?.message ?? '', /^power cycle of pw-1-power in pw-1 by recovery$/);
    const step = story[3];
    assert.deepEqual(
      { step: step?.data?.['step'], ok: step?.data?.['ok'], recovered: step?.data?.['recovered'] },
      { step: 'power-cycle', ok: true, recovered: true },
    );
    assert.match(step?.message ?? '', /^pw-1: power-cycle done \(cycled pw-1-power, waited 3 s\); recovered$/);
    assert.match(succeeded.message, /^pw-1 recovered by power-cycle after \d+ s; back in rotation$/);
    assert.ok(!events.some((e) => e.type === 'slot.held'), 'no hold at any point');

    // Back in rotation: a job runs on it.
    const id = await lab.submit({ target: 'pw', argv: ['true'] });
    const job = await waitJobDone(lab.agent.url, id, 30_000);
    assert.deepEqual({ state: job.state, slot: job.slot }, { state: 'succeeded', slot: 'pw-1' });

    const metrics = await lab.metrics();
    const labels = { slot: 'pw-1', target: 'pw' };
    assert.equal(
      sampleValue(metrics, 'labslot_recovery_attempts_total', {
        ...labels,
        device: 'pw-1-con',
        step: 'power-cycle',
        result: 'ok',
      }),
      1,
    );
    assert.equal(sampleValue(metrics, 'labslot_recovery_duration_seconds_count', labels), 1);
    assert.equal(sampleValue(metrics, 'labslot_recovery_exhausted_total', labels), 0);
  });

  it('holds a slot whose console stays dead after max_attempts power cycles, listing every attempt', async (t) => {
    if (!requires(t, ...PREREQUISITES)) return;
    const lab = await recoveryLab(t, tempDir(t), [{ name: 'pd-1', target: 'pd' }], {
      recoveryToml: 'boot_wait = "3s"\nmax_attempts = 2',
    });
    const board = boardOf(lab, 'pd-1');

    board.kill();
    const exhausted = await lab.waitEvent('pd-1', 'recovery.exhausted', { timeoutMs: 60_000 });
    const { hold } = await lab.slot('pd-1');
    assert.ok(hold !== null, 'the slot is held');
    assert.deepEqual({ source: hold.source, by: hold.by }, { source: 'system', by: 'labslot recovery' });
    assert.match(
      hold.reason,
      /^recovery of pd-1-con failed after 2 rounds: round 1: power-cycle done, then pd-1-con: .+; round 2: power-cycle done, then pd-1-con: .+$/,
    );
    assert.match(exhausted.message, /^pd-1: recovery of pd-1-con failed after 2 rounds: /);
    // Two real cycles of the outlet, and no third: the hold keeps recovery away.
    assert.deepEqual(lab.pdu.switched(), ['off 1', 'on 1', 'off 1', 'on 1']);
    const events = await lab.events('pd-1');
    assert.deepEqual(
      events
        .filter((e) => e.type === 'recovery.step')
        .map((e) => [e.data?.['round'], e.data?.['ok'], e.data?.['recovered']]),
      [
        [1, true, false],
        [2, true, false],
      ],
    );
    assert.equal(events.filter((e) => e.type === 'recovery.round').length, 2);
    assert.ok(!events.some((e) => e.type === 'recovery.succeeded'));

    const metrics = await lab.metrics();
    const labels = { slot: 'pd-1', target: 'pd' };
    assert.equal(sampleValue(metrics, 'labslot_recovery_exhausted_total', labels), 1);
    assert.equal(
      sampleValue(metrics, 'labslot_recovery_attempts_total', {
        ...labels,
        device: 'pd-1-con',
        step: 'power-cycle',
        result: 'ok',
      }),
      2,
    );
    assert.equal(sampleValue(metrics, 'labslot_recovery_duration_seconds_count', labels) ?? 0, 0);
  });
});
