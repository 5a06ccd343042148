// Counters of what happened, read from the audit log at scrape time: jobs
// that reached their final state, leases started and ended, holds placed,
// and how long released holds lasted. Every one of these is an event written
// in the same transaction as the change it describes, so counting events
// needs no hook in the code that makes the change.
import { inArray } from 'drizzle-orm';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { LabModel } from '../../config/lab-model.js';
import type { Db } from '../../db/open-database.js';
import { jobs } from '../../db/schema.js';
import { EventTail, type TailedEvent } from './event-tail.js';
import type { ScrapeCollector } from './scrape-collector.js';

/** Events per read, and per scrape: a backlog (the first scrape after a busy start) is worked off over several scrapes. */
const BATCH = 5_000;
const MAX_PER_SCRAPE = 50_000;

const EVENT_TYPES = [
  'slot.leased',
  'slot.idle',
  'lease.check-failed',
  'worker.cleanup-failed',
  'job.ended',
  'job.cancelled',
  'slot.held',
  'slot.hold-replaced',
  'slot.released',
];

/** From a minute to a month: holds last as long as it takes a person to look. */
const HOLD_BUCKETS_S = [
  60,
  300,
  900,
  1_800,
  3_600,
  3 * 3_600,
  6 * 3_600,
  12 * 3_600,
  86_400,
  2 * 86_400,
  4 * 86_400,
  7 * 86_400,
  14 * 86_400,
  30 * 86_400,
];

export class EventMetrics implements ScrapeCollector {
  readonly name = 'events';
  private readonly tail: EventTail;
  private readonly jobsEnded: Counter<'target' | 'state' | 'ended_by'>;
  private readonly leasesStarted: Counter<'slot' | 'target'>;
  private readonly leasesEnded: Counter<'slot' | 'target' | 'result'>;
  private readonly cleanupFailures: Counter<'slot' | 'target'>;
  private readonly holds: Counter<'slot' | 'target' | 'source'>;
  private readonly holdDuration: Histogram<'slot' | 'target' | 'source'>;

  constructor(
    private readonly lab: LabModel,
    private readonly db: Db,
    registry: Registry,
    since: number,
  ) {
    const registers = [registry];
    this.tail = new EventTail(db, EVENT_TYPES, since);
    this.jobsEnded = new Counter({
      name: 'labslot_jobs_ended_total',
      help: 'Jobs that reached their final state (succeeded, failed, cancelled), by what ended them (exit, signal, timeout, limit, cancel, infrastructure).',
      labelNames: ['target', 'state', 'ended_by'],
      registers,
    });
    this.leasesStarted = new Counter({
      name: 'labslot_leases_started_total',
      help: 'Slots leased to a job (before its pre-lease check).',
      labelNames: ['slot', 'target'],
      registers,
    });
    this.leasesEnded = new Counter({
      name: 'labslot_leases_ended_total',
      help: 'Leases that ended, by result: completed (cleaned up, slot idle), check-failed (the pre-lease check failed; the job went back to the queue). A lease whose cleanup keeps failing has not ended.',
      labelNames: ['slot', 'target', 'result'],
      registers,
    });
    // Separate from lease ends: a failed cleanup is retried, and each distinct error is an event of its own, so
    // counting them as ends would count one lease several times (and again when the retry completes it).
    this.cleanupFailures = new Counter({
      name: 'labslot_cleanup_failures_total',
      help: 'Worker cleanups that failed (each distinct error once); the slot stays held and cleanup is retried.',
      labelNames: ['slot', 'target'],
      registers,
    });
    this.holds = new Counter({
      name: 'labslot_holds_total',
      help: 'Holds placed (or replaced) on a slot, by who placed them: operator, job (mark-broken) or system.',
      labelNames: ['slot', 'target', 'source'],
      registers,
    });
    this.holdDuration = new Histogram({
      name: 'labslot_hold_duration_seconds',
      help: 'How long holds lasted, observed when an operator released them; source is who had placed the hold.',
      labelNames: ['slot', 'target', 'source'],
      buckets: HOLD_BUCKETS_S,
      registers,
    });
  }

  /** No clear(): what was counted stays true even when a later read fails. */
  refresh(): void {
    for (let read = 0; read < MAX_PER_SCRAPE;) {
      const count = this.tail.read(BATCH, (batch) => this.count(batch));
      if (count < BATCH) return;
      read += count;
    }
  }

  /** Reads first and counts last, so a failure leaves the batch uncounted for the next read. */
  private count(batch: readonly TailedEvent[]): void {
    const targets = this.jobTargets(batch.filter((e) => jobEnd(e) !== undefined));
    for (const event of batch) {
      const slot = event.slot ?? '';
      const slotLabels = { slot, target: this.lab.slots.get(slot)?.target ?? '' };
      const end = jobEnd(event);
      if (end)
        this.jobsEnded.inc({
          target: (event.jobId !== null ? targets.get(event.jobId) : undefined) ?? slotLabels.target,
          state: end.state,
          ended_by: end.endedBy,
        });
      switch (event.type) {
        case 'slot.leased':
          this.leasesStarted.inc(slotLabels);
          break;
        case 'slot.idle':
          // A slot freed by the reconciler with no job is not the end of a lease this agent counted.
          if (event.jobId !== null) this.leasesEnded.inc({ ...slotLabels, result: 'completed' });
          break;
        case 'lease.check-failed':
          this.leasesEnded.inc({ ...slotLabels, result: 'check-failed' });
          break;
        case 'worker.cleanup-failed':
          this.cleanupFailures.inc(slotLabels);
          break;
        case 'slot.held':
        case 'slot.hold-replaced':
          this.holds.inc({ ...slotLabels, source: text(event.data?.['source']) ?? '' });
          break;
        case 'slot.released': {
          const heldForMs = event.data?.['held_for_ms'];
          const hold = event.data?.['hold'];
          const source =
            typeof hold === 'object' && hold !== null ? text((hold as Record<string, unknown>)['source']) : undefined;
          if (typeof heldForMs === 'number' && Number.isFinite(heldForMs))
            this.holdDuration.observe({ ...slotLabels, source: source ?? '' }, Math.max(0, heldForMs) / 1000);
          break;
        }
      }
    }
  }

  /** The targets of the jobs these events ended: a job cancelled while queued has no slot to tell it. */
  private jobTargets(ended: readonly TailedEvent[]): Map<string, string> {
    const ids = [...new Set(ended.flatMap((e) => (e.jobId !== null ? [e.jobId] : [])))];
    if (ids.length === 0) return new Map();
    const rows = this.db.select({ id: jobs.id, target: jobs.target }).from(jobs).where(inArray(jobs.id, ids)).all();
    return new Map(rows.map((r) => [r.id, r.target]));
  }
}

/** The `job_end` an event carries when it gave its job the final state (see jobEndData). */
function jobEnd(event: TailedEvent): { state: string; endedBy: string } | undefined {
  const end = event.data?.['job_end'];
  if (typeof end !== 'object' || end === null) return undefined;
  const state = text((end as Record<string, unknown>)['state']);
  const endedBy = text((end as Record<string, unknown>)['ended_by']);
  return state !== undefined && endedBy !== undefined ? { state, endedBy } : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
