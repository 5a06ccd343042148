// Device health from consecutive results (DESIGN §2). A device with no verdict
// yet (unknown) takes the first one at once, since unknown is never leasable
// and waiting would only delay; after that, `failure_threshold` consecutive
// failures make it unhealthy and `success_threshold` successes healthy again.
// A definitive failure (the probe was just unplugged) skips the count.
import type { DeviceHealthState } from '../db/schema.js';

export interface HealthCounters {
  state: DeviceHealthState;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
}

export interface Thresholds {
  failure: number;
  success: number;
}

export const INITIAL_COUNTERS: HealthCounters = { state: 'unknown', consecutiveFailures: 0, consecutiveSuccesses: 0 };

export function applyResult(
  previous: HealthCounters,
  ok: boolean,
  thresholds: Thresholds,
  definitive = false,
): HealthCounters {
  if (ok) {
    const successes = previous.consecutiveSuccesses + 1;
    const becomesHealthy =
      previous.state === 'unknown' || (previous.state === 'unhealthy' && successes >= thresholds.success);
    return {
      state: becomesHealthy ? 'healthy' : previous.state,
      consecutiveFailures: 0,
      consecutiveSuccesses: successes,
    };
  }
  const failures = previous.consecutiveFailures + 1;
  const becomesUnhealthy =
    previous.state === 'unknown' || definitive || (previous.state === 'healthy' && failures >= thresholds.failure);
  return {
    state: becomesUnhealthy ? 'unhealthy' : previous.state,
    consecutiveFailures: failures,
    consecutiveSuccesses: 0,
  };
}
