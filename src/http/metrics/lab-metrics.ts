// The lab's figures on /metrics (DESIGN §7): every agent says whether it is
// linked to the lab's database; the lab-wide queue (depth and oldest age per
// target) and host counts come from one agent only, the reporter (see
// lab/lab-summary.ts), so that a sum over all agents counts each job once.
import { Gauge, type Registry } from 'prom-client';
import type { LabMember } from '../../lab/lab-member.js';
import type { ScrapeCollector } from './scrape-collector.js';

export class LabMetrics implements ScrapeCollector {
  readonly name = 'lab';
  private readonly linked: Gauge;
  private readonly reporter: Gauge;
  private readonly depth: Gauge<'target'>;
  private readonly oldest: Gauge<'target'>;
  private readonly hosts: Gauge<'state'>;

  constructor(
    private readonly member: LabMember,
    registry: Registry,
  ) {
    this.linked = new Gauge({
      name: 'labslot_lab_connected',
      help: "Whether this agent is linked to the lab's database (1) or not (0): unlinked, it claims no job.",
      registers: [registry],
    });
    this.reporter = new Gauge({
      name: 'labslot_lab_reporter',
      help: 'Whether this agent reports the lab-wide figures (labslot_lab_queue_*, labslot_lab_hosts): the online host whose name sorts first.',
      registers: [registry],
    });
    this.depth = new Gauge({
      name: 'labslot_lab_queue_jobs',
      help: "Jobs in the lab's shared queue per target, waiting for any host's slot (reported by one agent of the lab).",
      labelNames: ['target'],
      registers: [registry],
    });
    this.oldest = new Gauge({
      name: 'labslot_lab_queue_oldest_age_seconds',
      help: "How long the oldest job in the lab's queue has waited per target; 0 when none waits (reported by one agent).",
      labelNames: ['target'],
      registers: [registry],
    });
    this.hosts = new Gauge({
      name: 'labslot_lab_hosts',
      help: "The lab's hosts by state (online: heartbeat within [lab] host_timeout), reported by one agent.",
      labelNames: ['state'],
      registers: [registry],
    });
  }

  refresh(now: number): void {
    this.clear();
    this.linked.set(this.member.state.connected ? 1 : 0);
    const summary = this.member.state.connected ? this.member.summary : undefined;
    this.reporter.set(summary?.reporter === true ? 1 : 0);
    if (summary?.reporter !== true) return;
    for (const target of new Set([...summary.targets, ...summary.queues.keys()])) {
      const queue = summary.queues.get(target);
      this.depth.set({ target }, queue?.queued ?? 0);
      this.oldest.set({ target }, queue ? Math.max(0, now - queue.oldestAt) / 1000 : 0);
    }
    this.hosts.set({ state: 'online' }, summary.hostsOnline);
    this.hosts.set({ state: 'offline' }, summary.hostsOffline);
  }

  clear(): void {
    for (const gauge of [this.linked, this.reporter, this.depth, this.oldest, this.hosts]) gauge.reset();
  }
}
