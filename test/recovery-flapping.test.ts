// Flapping (DESIGN §9, README "Recovery"): a device whose health changes more
// than [recovery] flap_threshold times within flap_window puts a `system` hold
// on its slot, with no recovery steps involved; an operator's release forgives
// the flips before it, so the slot is not held again for them. The device is a
// real command check reading a file the test creates and removes.
import assert from 'node:assert/strict';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startAgent } from './helpers/agent-process.js';
import type { SlotDetailView } from './helpers/api-types.js';
import { eventually } from './helpers/eventually.js';
import {
  apiRequest,
  authToml,
  listEvents,
  OPERATOR_TOKEN,
  slotDetail,
  submitJob,
  waitHealthy,
  waitJobDone,
} from './helpers/job-api.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';
import { PROMETHEUS_PARSER, parsePrometheusText, sampleValue } from './helpers/prometheus-text.js';
import { tempDir } from './helpers/temp-dir.js';

describe('flapping devices', () => {
  it('holds a slot whose device flaps past flap_threshold, and does not hold it again for those flips after a release', async (t) => {
    if (!requires(t, ROOT, command('bwrap', ['--version']), PROMETHEUS_PARSER)) return;
    const dir = tempDir(t);
    chmodSync(dir, 0o755);
    const up = join(dir, 'up');
    writeFileSync(up, '');
    const config = join(dir, 'slots.toml');
    writeFileSync(
      config,
      `[agent]\nname = "flapping"\n${authToml()}` +
        '[health]\ninterval = "1s"\nfailure_threshold = 1\nsuccess_threshold = 1\n[jobs]\nstop_grace = "1s"\n' +
        '[recovery]\nflap_threshold = 3\nflap_window = "15m"\n' +
        `[devices.fl-link]\nkind = "command"\nargv = ["test", "-e", "${up}"]\n` +
        '[slots.fl-1]\ntarget = "fl"\ndevices = ["fl-link"]\n',
    );
    const agent = await startAgent(t, { config, stateDir: join(dir, 'state') });
    const url = agent.url;
    await waitHealthy(url, 'fl-1');
    let view: SlotDetailView | undefined;
    /** Sets the link up or down and waits until the agent has seen it (or the slot is held, when `orHeld`). */
    const flip = async (on: boolean, orHeld = false): Promise<void> => {
      if (on) writeFileSync(up, '');
      else rmSync(up);
      await eventually(
        async () => {
          view = await slotDetail(url, 'fl-1');
          return view.devices[0]?.health === (on ? 'healthy' : 'unhealthy') || (orHeld && view.hold !== null);
        },
        { timeoutMs: 15_000, message: () => `fl-link ${on ? 'healthy' : 'unhealthy'}: ${JSON.stringify(view)}` },
      );
    };

    // unknown -> healthy was the first change; three flips more make four, past the threshold of 3.
    for (const on of [false, true, false]) await flip(on, true);
    const held = await eventually(async () => (await slotDetail(url, 'fl-1')).hold ?? false, {
      message: 'fl-1 held as flapping',
    });
    assert.deepEqual({ source: held.source, by: held.by }, { source: 'system', by: 'labslot flapping' });
    assert.match(held.reason, /^fl-link is flapping: 4 health changes in 15 min \(last: healthy -> unhealthy: .+\)$/);
    const flapping = (await listEvents(url, '&slot=fl-1')).filter((e) => e.type === 'recovery.flapping');
    assert.deepEqual(
      flapping.map((e) => e.device),
      ['fl-link'],
    );
    const metrics = parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
    assert.equal(
      sampleValue(metrics, 'labslot_recovery_flapping_total', { slot: 'fl-1', target: 'fl', device: 'fl-link' }),
      1,
    );

    // The operator fixes the link and releases the slot. Two more changes since: not past the threshold.
    await flip(true);
    const release = await apiRequest(url, 'POST', '/v1/slots/fl-1/release', { note: 'reseated' }, OPERATOR_TOKEN);
    assert.equal(release.status, 200, JSON.stringify(release.json));
    await flip(false);
    await flip(true);
    const after = await slotDetail(url, 'fl-1');
    assert.equal(after.hold, null, JSON.stringify(after.hold));
    const id = await submitJob(url, { target: 'fl', argv: ['true'] });
    const job = await waitJobDone(url, id, 30_000);
    assert.deepEqual([job.state, job.slot], ['succeeded', 'fl-1']);
    assert.equal((await slotDetail(url, 'fl-1')).hold, null);
    assert.equal((await listEvents(url, '&slot=fl-1')).filter((e) => e.type === 'recovery.flapping').length, 1);
  });
});
