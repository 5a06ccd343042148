// Slot and device state for /metrics, read from the database at scrape time
// (it holds the truth; nothing is counted on the side): each slot's usage,
// health and hold, the age of a current hold, and each device's health.
import { Gauge, type Registry } from 'prom-client';
import type { LabModel } from '../../config/lab-model.js';
import type { Db } from '../../db/open-database.js';
import type { DeviceHealthState, SlotUsage } from '../../db/schema.js';
import { HealthStore } from '../../health/health-store.js';
import { readSlotStates } from '../../slots/slot-states.js';
import { combinedHealth } from '../../slots/slot-view.js';
import type { ScrapeCollector } from './scrape-collector.js';

const USAGES: readonly SlotUsage[] = ['idle', 'leased', 'running', 'cleaning', 'recovering'];
const HEALTH_STATES: readonly DeviceHealthState[] = ['healthy', 'unhealthy', 'unknown'];

export class SlotMetrics implements ScrapeCollector {
  readonly name = 'slots';
  private readonly usage: Gauge<'slot' | 'target' | 'usage'>;
  private readonly health: Gauge<'slot' | 'target' | 'health'>;
  private readonly held: Gauge<'slot' | 'target' | 'source'>;
  private readonly holdAge: Gauge<'slot' | 'target' | 'source'>;
  private readonly deviceHealth: Gauge<'device' | 'kind' | 'health'>;
  private readonly store: HealthStore;

  constructor(
    private readonly lab: LabModel,
    private readonly db: Db,
    registry: Registry,
  ) {
    const registers = [registry];
    this.usage = new Gauge({
      name: 'labslot_slot_usage',
      help: 'Usage of each slot: 1 for its current state (idle, leased, running, cleaning), 0 for the others.',
      labelNames: ['slot', 'target', 'usage'],
      registers,
    });
    this.health = new Gauge({
      name: 'labslot_slot_health',
      help: 'Health of each slot: 1 for its current state, 0 for the others. healthy when all its devices are, unhealthy when any is, unknown otherwise.',
      labelNames: ['slot', 'target', 'health'],
      registers,
    });
    this.held = new Gauge({
      name: 'labslot_slot_held',
      help: 'Whether the slot is on hold (1) and so gets no jobs; source says who held it (operator, job, system), empty when not held.',
      labelNames: ['slot', 'target', 'source'],
      registers,
    });
    this.holdAge = new Gauge({
      name: 'labslot_slot_hold_age_seconds',
      help: 'How long the current hold of each held slot has lasted; only held slots have a series.',
      labelNames: ['slot', 'target', 'source'],
      registers,
    });
    this.deviceHealth = new Gauge({
      name: 'labslot_device_health',
      help: 'Health of each device from its consecutive check results: 1 for its current state, 0 for the others.',
      labelNames: ['device', 'kind', 'health'],
      registers,
    });
    this.store = new HealthStore(db, lab);
  }

  refresh(now: number): void {
    const states = readSlotStates(this.db, [...this.lab.slots.keys()]);
    const deviceStates = this.store.states([...this.lab.devices.keys()]);
    this.clear();
    for (const device of this.lab.devices.values()) {
      const current = deviceStates.get(device.name) ?? 'unknown';
      for (const health of HEALTH_STATES)
        this.deviceHealth.set({ device: device.name, kind: device.spec.kind, health }, health === current ? 1 : 0);
    }
    for (const slot of this.lab.slots.values()) {
      const labels = { slot: slot.name, target: slot.target };
      const health = combinedHealth(slot.devices.map((d) => deviceStates.get(d) ?? 'unknown'));
      for (const h of HEALTH_STATES) this.health.set({ ...labels, health: h }, h === health ? 1 : 0);
      // The agent makes a row for every configured slot before serving; a slot without one has no usage or hold to show.
      const state = states.get(slot.name);
      if (!state) continue;
      for (const usage of USAGES) this.usage.set({ ...labels, usage }, usage === state.usage ? 1 : 0);
      const hold = state.hold;
      this.held.set({ ...labels, source: hold?.source ?? '' }, hold ? 1 : 0);
      // A hold stamped in the future (a clock step back) is young, not negative.
      if (hold) this.holdAge.set({ ...labels, source: hold.source }, Math.max(0, now - hold.at) / 1000);
    }
  }

  clear(): void {
    this.usage.reset();
    this.health.reset();
    this.held.reset();
    this.holdAge.reset();
    this.deviceHealth.reset();
  }
}
