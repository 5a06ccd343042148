// Recovery on /metrics (DESIGN §9), counted from its events as the other
// event counters are: every step tried and how it went, slots whose rounds ran
// out (and were held), and how long slots took to come back. Every slot that
// has recovery steps has its series from the start at 0, so an alert on
// increase() sees the first exhaustion too.
import { Counter, Histogram, type Registry } from 'prom-client';
import type { LabModel } from '../../config/lab-model.js';
import type { Db } from '../../db/open-database.js';
import { hasRecovery } from '../../health/recovery-plan.js';
import { EventTail, type TailedEvent } from './event-tail.js';
import type { ScrapeCollector } from './scrape-collector.js';

const BATCH = 5_000;
const EVENT_TYPES = ['recovery.step', 'recovery.succeeded', 'recovery.exhausted', 'recovery.flapping'];

/** From seconds (a USB reset) to an hour (several power cycles of a slow board). */
const RECOVERY_BUCKETS_S = [1, 5, 15, 30, 60, 120, 300, 600, 1_800, 3_600];

export class RecoveryMetrics implements ScrapeCollector {
  readonly name = 'recovery';
  private readonly tail: EventTail;
  private readonly attempts: Counter<'slot' | 'target' | 'device' | 'step' | 'result'>;
  private readonly exhausted: Counter<'slot' | 'target'>;
  private readonly flapping: Counter<'slot' | 'target' | 'device'>;
  private readonly duration: Histogram<'slot' | 'target'>;

  constructor(
    private readonly lab: LabModel,
    db: Db,
    registry: Registry,
    since: number,
  ) {
    const registers = [registry];
    this.tail = new EventTail(db, EVENT_TYPES, since);
    this.attempts = new Counter({
      name: 'labslot_recovery_attempts_total',
      help: 'Recovery steps tried on a failing device, by step (power-cycle, usb-reset, usb-rebind, command) and result (ok: the step was done; failed: it could not be).',
      labelNames: ['slot', 'target', 'device', 'step', 'result'],
      registers,
    });
    this.exhausted = new Counter({
      name: 'labslot_recovery_exhausted_total',
      help: 'Times a slot ran out of recovery rounds ([recovery] max_attempts per window) and was held by the system.',
      labelNames: ['slot', 'target'],
      registers,
    });
    this.flapping = new Counter({
      name: 'labslot_recovery_flapping_total',
      help: 'Times a slot was held because one of its devices changed health too often ([recovery] flap_threshold).',
      labelNames: ['slot', 'target', 'device'],
      registers,
    });
    this.duration = new Histogram({
      name: 'labslot_recovery_duration_seconds',
      help: 'Time from a device turning unhealthy to its slot back in rotation through recovery, observed when recovery succeeds.',
      labelNames: ['slot', 'target'],
      buckets: RECOVERY_BUCKETS_S,
      registers,
    });
    for (const slot of lab.slots.values())
      if (hasRecovery(lab, slot)) this.exhausted.inc({ slot: slot.name, target: slot.target }, 0);
  }

  refresh(): void {
    while (this.tail.read(BATCH, (batch) => this.count(batch)) === BATCH);
  }

  private count(batch: readonly TailedEvent[]): void {
    for (const event of batch) {
      const slot = event.slot ?? '';
      const labels = { slot, target: this.lab.slots.get(slot)?.target ?? '' };
      const data = event.data ?? {};
      switch (event.type) {
        case 'recovery.step': {
          const devices = Array.isArray(data['devices']) ? (data['devices'] as unknown[]) : [];
          for (const device of devices)
            this.attempts.inc({
              ...labels,
              device: text(device),
              step: text(data['step']),
              result: data['ok'] === true ? 'ok' : 'failed',
            });
          break;
        }
        case 'recovery.exhausted':
          this.exhausted.inc(labels);
          break;
        case 'recovery.flapping':
          this.flapping.inc({ ...labels, device: text(data['device']) });
          break;
        case 'recovery.succeeded': {
          const ms = data['duration_ms'];
          if (typeof ms === 'number' && Number.isFinite(ms)) this.duration.observe(labels, Math.max(0, ms) / 1000);
          break;
        }
      }
    }
  }
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
