// Which slots could take a job, and the sentence a queued job shows when none can.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import { slots } from '../src/db/schema.js';
import { HealthStore } from '../src/health/health-store.js';
import { slotAvailability, waitingReason } from '../src/slots/availability.js';
import { holdSlot } from '../src/slots/holds.js';
import { labFixture } from './helpers/lab-fixture.js';
import { tempDir } from './helpers/temp-dir.js';

const LAB = `
[devices.g1-sp]
kind = "usb"
vid = 0x1fc9
pid = 0x0143
serial = "G1"
[devices.g2-sp]
kind = "usb"
vid = 0x1fc9
pid = 0x0143
serial = "G2"
[devices.g3-sp]
kind = "usb"
vid = 0x1fc9
pid = 0x0143
serial = "G3"
[devices.mux]
kind = "command"
argv = ["true"]
[devices.s1-sp]
kind = "usb"
vid = 0x0483
pid = 0x374e
serial = "S1"
[slots.gimlet-1]
target = "gimlet"
devices = ["g1-sp"]
[slots.gimlet-2]
target = "gimlet"
devices = ["g2-sp", "mux"]
[slots.gimlet-3]
target = "gimlet"
devices = ["g3-sp"]
conflicts_with_slots = ["sidecar-1"]
[slots.sidecar-1]
target = "sidecar"
devices = ["s1-sp", "mux"]
`;

describe('availability', () => {
  it('names every reason a slot cannot be leased, and counts them per target', (t) => {
    const fx = labFixture(t, tempDir(t), LAB);
    const store = new HealthStore(fx.db, fx.lab);
    const ok = { ok: true, reason: 'present', durationMs: 1 };
    for (const device of ['g1-sp', 'g3-sp', 'mux', 's1-sp']) store.record(device, ok, 'interval');
    store.record('g2-sp', { ok: false, reason: 'usb 1fc9:0143 serial G2 not present', durationMs: 1 }, 'interval');
    const hostOk = { ok: true, reason: 'fine' };

    let a = slotAvailability(fx.lab, fx.db, hostOk);
    assert.deepEqual(
      [...a].filter(([, v]) => v.available).map(([k]) => k),
      ['gimlet-1', 'gimlet-3', 'sidecar-1'],
    );
    assert.deepEqual(a.get('gimlet-2'), {
      available: false,
      why: { kind: 'unhealthy', detail: 'g2-sp: usb 1fc9:0143 serial G2 not present' },
    });

    holdSlot(fx.db, 'gimlet-1', { reason: 'flaky', source: 'operator', by: 'alice' });
    fx.db.update(slots).set({ usage: 'running' }).where(eq(slots.name, 'sidecar-1')).run();
    a = slotAvailability(fx.lab, fx.db, hostOk);
    // gimlet-3 conflicts explicitly with the running sidecar-1; gimlet-2 shares its mux (and is unhealthy first).
    assert.deepEqual(a.get('gimlet-3'), { available: false, why: { kind: 'conflict', detail: 'sidecar-1 is in use' } });
    assert.equal(
      waitingReason(fx.lab, 'gimlet', a),
      'gimlet: 1 held, 1 unhealthy (g2-sp: usb 1fc9:0143 serial G2 not present), 1 blocked by a conflicting slot, 0 free',
    );
    assert.equal(waitingReason(fx.lab, 'sidecar', a), 'sidecar: 1 in use, 0 free');

    const sickHost = slotAvailability(fx.lab, fx.db, { ok: false, reason: 'free disk 0.10 GiB below 2.00 GiB' });
    fx.db.update(slots).set({ usage: 'idle' }).where(eq(slots.name, 'sidecar-1')).run();
    assert.deepEqual(slotAvailability(fx.lab, fx.db, { ok: false, reason: 'low disk' }).get('sidecar-1'), {
      available: false,
      why: { kind: 'host', detail: 'low disk' },
    });
    assert.equal(sickHost.get('gimlet-1')?.available, false);
  });

  it('does not offer a slot whose devices were never checked', (t) => {
    const fx = labFixture(t, tempDir(t), LAB);
    assert.deepEqual(slotAvailability(fx.lab, fx.db, { ok: true, reason: 'fine' }).get('gimlet-1'), {
      available: false,
      why: { kind: 'unknown-health', detail: 'not checked yet: g1-sp' },
    });
  });
});
