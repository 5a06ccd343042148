// The agent's /metrics: one prom-client Registry per app (never the global
// one: tests run several agents in one process), refreshed at scrape time
// from the database, plus the check metrics the health monitor feeds. A
// failing group of metrics is logged and counted, and the scrape goes on.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { coerceError } from '../../errors.js';
import type { AppDeps } from '../app-deps.js';
import { CheckMetrics } from './check-metrics.js';
import { EventMetrics } from './event-metrics.js';
import { LabMetrics } from './lab-metrics.js';
import { QueueMetrics } from './queue-metrics.js';
import { RecoveryMetrics } from './recovery-metrics.js';
import type { ScrapeCollector } from './scrape-collector.js';
import { SlotMetrics } from './slot-metrics.js';

/** How often the event-loop delay is sampled, in ms. */
const EVENT_LOOP_PRECISION_MS = 100;

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly collectors: ScrapeCollector[];
  private readonly collectorErrors: Counter<'collector'>;
  private readonly hostHealthy: Gauge;

  constructor(
    private readonly deps: Pick<AppDeps, 'lab' | 'db' | 'log' | 'monitor' | 'version' | 'startedAt' | 'member'>,
  ) {
    const { lab, db, monitor } = deps;
    const registry = this.registry;
    // The event-loop delay histogram wakes the loop every `eventLoopMonitoringPrecision` ms. prom-client's
    // 10 ms costs an idle agent a quarter of a percent of a core on its own (bench/idle.ts); at 100 ms a
    // lag worth alerting on (tens of ms and up) still shows.
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_PRECISION_MS });
    const info = new Gauge({
      name: 'labslot_agent_info',
      help: 'Always 1; the labels name the agent and its version.',
      labelNames: ['agent', 'version'],
      registers: [registry],
    });
    info.set({ agent: lab.agentName, version: deps.version }, 1);
    this.hostHealthy = new Gauge({
      name: 'labslot_host_healthy',
      help: 'Whether the host has the free disk and memory its config asks for (1) or not (0); an unhealthy host leases nothing. Absent until the first host check.',
      registers: [registry],
    });
    this.collectorErrors = new Counter({
      name: 'labslot_metrics_collector_errors_total',
      help: 'Scrapes in which a group of these metrics could not be read (see the agent log); its gauges are left out of that scrape.',
      labelNames: ['collector'],
      registers: [registry],
    });
    this.collectors = [
      new SlotMetrics(lab, db, registry),
      new QueueMetrics(lab, db, registry),
      new EventMetrics(lab, db, registry, deps.startedAt),
      new RecoveryMetrics(lab, db, registry, deps.startedAt),
      ...(deps.member === undefined ? [] : [new LabMetrics(deps.member, registry)]),
    ];
    for (const collector of this.collectors) this.collectorErrors.inc({ collector: collector.name }, 0);
    new CheckMetrics(lab, monitor, registry);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text; never fails because one group of metrics did. */
  async render(now = Date.now()): Promise<string> {
    const host = this.deps.monitor.host;
    this.hostHealthy.reset();
    if (host !== null) this.hostHealthy.set(host.ok ? 1 : 0);
    for (const collector of this.collectors) {
      try {
        collector.refresh(now);
      } catch (error) {
        this.deps.log.warn({ err: coerceError(error), collector: collector.name }, 'metrics collector failed');
        this.collectorErrors.inc({ collector: collector.name });
        collector.clear?.();
      }
    }
    return this.registry.metrics();
  }
}
