// Device checks for /metrics: how long each check took and why failed ones
// failed, observed as the health monitor produces results. The database keeps
// only a bounded history, so these are counted in the process (a restart
// resets them, as Prometheus expects of counters).
import { Counter, Histogram, type Registry } from 'prom-client';
import type { LabModel } from '../../config/lab-model.js';
import { failureClass, FAILURE_CLASSES, type CheckResult } from '../../devices/check-result.js';
import { checkTimeoutMs } from '../../devices/device-checker.js';
import type { HealthMonitor } from '../../health/health-monitor.js';

/** 1 ms, 2.5 ms, 5 ms, 10 ms, ... */
const STEPS = [1, 2.5, 5];
const SMALLEST_MS = 1;

/**
 * Buckets from 1 ms up to the longest check timeout in the lab, with every
 * configured timeout as a bound of its own: a check that ran into its
 * deadline lands above it, so `+Inf` minus `le=<timeout>` counts time-outs.
 */
export function checkDurationBuckets(timeoutsMs: Iterable<number>): number[] {
  const timeouts = [...timeoutsMs].filter((t) => Number.isFinite(t) && t > 0);
  const longest = Math.max(SMALLEST_MS, ...timeouts);
  const bounds = new Set<number>(timeouts);
  for (let decade = SMALLEST_MS; decade < longest; decade *= 10) {
    for (const step of STEPS) if (decade * step < longest) bounds.add(decade * step);
  }
  // Seconds, rounded so that 0.0025 does not print as 0.0025000000000000005.
  return [...bounds].sort((a, b) => a - b).map((ms) => Math.round(ms * 1000) / 1e6);
}

export class CheckMetrics {
  private readonly duration: Histogram<'device' | 'kind'>;
  private readonly failures: Counter<'device' | 'kind' | 'class'>;

  constructor(
    private readonly lab: LabModel,
    monitor: HealthMonitor,
    registry: Registry,
  ) {
    const devices = [...lab.devices.values()];
    this.duration = new Histogram({
      name: 'labslot_device_check_duration_seconds',
      help: 'How long each device check took, from start to verdict; checks that hit their timeout land above the largest finite bucket.',
      labelNames: ['device', 'kind'],
      buckets: checkDurationBuckets(devices.map((d) => checkTimeoutMs(lab, d.spec))),
      registers: [registry],
    });
    this.failures = new Counter({
      name: 'labslot_device_check_failures_total',
      help: `Failed device checks by class of failure: ${FAILURE_CLASSES.join(', ')}.`,
      labelNames: ['device', 'kind', 'class'],
      registers: [registry],
    });
    // Every class starts at 0, so the first failure of a kind shows up as an increase.
    for (const device of devices)
      for (const cls of FAILURE_CLASSES)
        this.failures.inc({ device: device.name, kind: device.spec.kind, class: cls }, 0);
    // The monitor and these metrics live and end with the same agent: nothing to unsubscribe.
    monitor.onResult((device, result) => this.observe(device, result));
  }

  observe(device: string, result: CheckResult): void {
    const kind = this.lab.devices.get(device)?.spec.kind ?? 'unknown';
    this.duration.observe({ device, kind }, Math.max(0, result.durationMs) / 1000);
    const cls = failureClass(result);
    if (cls !== null) this.failures.inc({ device, kind, class: cls });
  }
}
