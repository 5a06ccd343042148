// Persists check results: the per-device counters and last result, a bounded
// history, and an event for every health transition, in one transaction so a
// crash never leaves counters and history disagreeing.
import { and, desc, eq, inArray, lt } from 'drizzle-orm';
import type { LabModel } from '../config/lab-model.js';
import { checkHistory, type StoredResult } from '../db/check-history.js';
import { recordEvent } from '../db/event-log.js';
import type { Db } from '../db/open-database.js';
import { checkResults, deviceHealth, type DeviceHealthState } from '../db/schema.js';
import type { CheckResult } from '../devices/check-result.js';
import { applyResult, INITIAL_COUNTERS } from './thresholds.js';

export type CheckTrigger = 'interval' | 'hotplug' | 'pre-lease' | 'manual' | 'release' | 'recovery';

export interface Transition {
  device: string;
  from: DeviceHealthState;
  to: DeviceHealthState;
  result: CheckResult;
}

export class HealthStore {
  constructor(
    private readonly db: Db,
    private readonly lab: LabModel,
  ) {}

  /** Records one result; returns the transition it caused, if any. */
  record(
    device: string,
    result: CheckResult,
    trigger: CheckTrigger,
    options: { definitive?: boolean; at?: number } = {},
  ): Transition | null {
    const at = options.at ?? Date.now();
    const { failure_threshold: failure, success_threshold: success, history } = this.lab.config.health;
    return this.db.transaction((tx) => {
      const row = tx.select().from(deviceHealth).where(eq(deviceHealth.device, device)).get();
      const previous = row ?? INITIAL_COUNTERS;
      const next = applyResult(previous, result.ok, { failure, success }, options.definitive ?? false);
      const changed = next.state !== previous.state;
      const values = {
        ...next,
        totalChecks: (row?.totalChecks ?? 0) + 1,
        totalFailures: (row?.totalFailures ?? 0) + (result.ok ? 0 : 1),
        lastOk: result.ok,
        lastReason: result.reason,
        lastDetail: result.detail ?? null,
        lastDurationMs: result.durationMs,
        lastCheckedAt: at,
        ...(changed ? { stateChangedAt: at } : {}),
      };
      tx.insert(deviceHealth)
        .values({ device, ...values })
        .onConflictDoUpdate({ target: deviceHealth.device, set: values })
        .run();

      tx.insert(checkResults)
        .values({
          device,
          at,
          ok: result.ok,
          reason: result.reason,
          detail: result.detail ?? null,
          durationMs: result.durationMs,
          trigger,
        })
        .run();
      // Keep the newest `history` results of this device.
      tx.delete(checkResults)
        .where(and(eq(checkResults.device, device), lt(checkResults.id, this.cutoff(tx, device, history))))
        .run();

      if (!changed) return null;
      const users = this.lab.devices.get(device)?.usedBy ?? [];
      for (const slot of users.length > 0 ? users : [undefined]) {
        recordEvent(
          tx,
          {
            type: 'health.changed',
            slot,
            device,
            message: `${device} ${previous.state} -> ${next.state}: ${result.reason}`,
            data: { from: previous.state, to: next.state, reason: result.reason, trigger },
          },
          at,
        );
      }
      return { device, from: previous.state, to: next.state, result };
    });
  }

  /** The id below which this device's results are older than the newest `keep`. */
  private cutoff(tx: Pick<Db, 'select'>, device: string, keep: number): number {
    const row = tx
      .select({ id: checkResults.id })
      .from(checkResults)
      .where(eq(checkResults.device, device))
      .orderBy(desc(checkResults.id))
      .limit(1)
      .offset(keep - 1)
      .get();
    return row?.id ?? 0;
  }

  /** The host's own health changed (disk or memory crossed a minimum): an event, since it stops all leasing. */
  recordHostChange(ok: boolean, reason: string, at = Date.now()): void {
    recordEvent(
      this.db,
      { type: 'host.changed', message: `host ${ok ? 'healthy' : 'unhealthy'}: ${reason}`, data: { ok, reason } },
      at,
    );
  }

  /** The newest `limit` results of a device, newest first; with `since`, only those checked at or after it. */
  history(device: string, limit: number, since?: number): StoredResult[] {
    return checkHistory(this.db, device, limit, since);
  }

  states(devices: readonly string[]): Map<string, DeviceHealthState> {
    const rows =
      devices.length === 0
        ? []
        : this.db
            .select({ device: deviceHealth.device, state: deviceHealth.state })
            .from(deviceHealth)
            .where(inArray(deviceHealth.device, [...devices]))
            .all();
    return new Map(rows.map((r) => [r.device, r.state]));
  }
}
