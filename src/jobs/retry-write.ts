// Database writes that must not be lost to a passing lock (SQLITE_BUSY past
// busy_timeout, another process holding a write transaction) are retried for
// a while before the caller gives up and leaves the rest to the reconciler.
// A slot move that was refused is not retried: it would be refused again.
import { setTimeout as sleep } from 'node:timers/promises';
import { SlotTransitionError, SlotUsageMismatchError } from '../slots/slot-usage.js';

const DELAYS_MS = [100, 250, 500, 1_000, 2_000, 4_000, 8_000];

export async function retryWrite<T>(write: () => T): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return write();
    } catch (error) {
      const delay = DELAYS_MS[attempt];
      if (delay === undefined || error instanceof SlotTransitionError || error instanceof SlotUsageMismatchError)
        throw error;
      await sleep(delay);
    }
  }
}
