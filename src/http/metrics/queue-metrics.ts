// Queue depth and the age of the oldest queued job per target, from the jobs
// table at scrape time: one grouped query on the queue index, whose cost
// grows with the queued jobs only, not with the job history.
import { Gauge, type Registry } from 'prom-client';
import type { LabModel } from '../../config/lab-model.js';
import type { Db } from '../../db/open-database.js';
import { queueByTarget } from '../../jobs/queue-summary.js';
import type { ScrapeCollector } from './scrape-collector.js';

export class QueueMetrics implements ScrapeCollector {
  readonly name = 'queue';
  private readonly depth: Gauge<'target'>;
  private readonly oldest: Gauge<'target'>;

  constructor(
    private readonly lab: LabModel,
    private readonly db: Db,
    registry: Registry,
  ) {
    this.depth = new Gauge({
      name: 'labslot_queue_jobs',
      help: 'Jobs queued for each target, waiting for a slot.',
      labelNames: ['target'],
      registers: [registry],
    });
    this.oldest = new Gauge({
      name: 'labslot_queue_oldest_age_seconds',
      help: 'How long the oldest queued job of each target has waited since it was submitted; 0 when none waits.',
      labelNames: ['target'],
      registers: [registry],
    });
  }

  refresh(now: number): void {
    const queues = queueByTarget(this.db);
    this.clear();
    // Every configured target has a series, so "nothing queued" reads 0 rather than no data.
    const targets = new Set([...this.lab.targets.keys(), ...queues.keys()]);
    for (const target of targets) {
      const queue = queues.get(target);
      this.depth.set({ target }, queue?.queued ?? 0);
      this.oldest.set({ target }, queue ? Math.max(0, now - queue.oldestSubmittedAt) / 1000 : 0);
    }
  }

  clear(): void {
    this.depth.reset();
    this.oldest.reset();
  }
}
