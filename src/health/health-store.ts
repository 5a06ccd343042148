// Persists check results: the per-device counters and last result, a bounded
// history, and an event for every health transition, in one transaction so a
// crash never leaves counters and history disagreeing.
import { and, desc, eq, inArray, lt, sql } from 'drizzle-orm';
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

/**
 * The statements of record(), built and prepared once per database: every device check writes
 * through them, and building drizzle queries anew each time was most of an idle agent's own CPU
 * (bench/idle.ts). Statements of one connection run inside its transactions.
 */
function prepareRecordStatements(db: Db) {
  const p = sql.placeholder;
  return {
    counters: db
      .select()
      .from(deviceHealth)
      .where(eq(deviceHealth.device, p('device')))
      .prepare(),
    // State changed at: only a transition moves it (a new row is a transition: unknown is left at once).
    upsert: db
      .insert(deviceHealth)
      .values({
        device: p('device'),
        state: p('state'),
        consecutiveFailures: p('consecutiveFailures'),
        consecutiveSuccesses: p('consecutiveSuccesses'),
        totalChecks: p('totalChecks'),
        totalFailures: p('totalFailures'),
        lastOk: p('lastOk'),
        lastReason: p('lastReason'),
        lastDetail: p('lastDetail'),
        lastDurationMs: p('lastDurationMs'),
        lastCheckedAt: p('lastCheckedAt'),
        stateChangedAt: p('stateChangedAt'),
      })
      .onConflictDoUpdate({
        target: deviceHealth.device,
        set: {
          state: sql`excluded.state`,
          consecutiveFailures: sql`excluded.consecutive_failures`,
          consecutiveSuccesses: sql`excluded.consecutive_successes`,
          totalChecks: sql`excluded.total_checks`,
          totalFailures: sql`excluded.total_failures`,
          lastOk: sql`excluded.last_ok`,
          lastReason: sql`excluded.last_reason`,
          lastDetail: sql`excluded.last_detail`,
          lastDurationMs: sql`excluded.last_duration_ms`,
          lastCheckedAt: sql`excluded.last_checked_at`,
          stateChangedAt: sql`coalesce(excluded.state_changed_at, ${deviceHealth.stateChangedAt})`,
        },
      })
      .prepare(),
    history: db
      .insert(checkResults)
      .values({
        device: p('device'),
        at: p('at'),
        ok: p('ok'),
        reason: p('reason'),
        detail: p('detail'),
        durationMs: p('durationMs'),
        trigger: p('trigger'),
      })
      .prepare(),
    /** The id below which this device's results are older than the newest `skip + 1`. */
    cutoff: db
      .select({ id: checkResults.id })
      .from(checkResults)
      .where(eq(checkResults.device, p('device')))
      .orderBy(desc(checkResults.id))
      .limit(1)
      .offset(p('skip'))
      .prepare(),
    trim: db
      .delete(checkResults)
      .where(and(eq(checkResults.device, p('device')), lt(checkResults.id, p('cutoff'))))
      .prepare(),
  };
}

const preparedFor = new WeakMap<Db, ReturnType<typeof prepareRecordStatements>>();

function recordStatements(db: Db): ReturnType<typeof prepareRecordStatements> {
  let statements = preparedFor.get(db);
  if (statements === undefined) {
    statements = prepareRecordStatements(db);
    preparedFor.set(db, statements);
  }
  return statements;
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
    const statements = recordStatements(this.db);
    return this.db.transaction((tx) => {
      const row = statements.counters.get({ device });
      const previous = row ?? INITIAL_COUNTERS;
      const next = applyResult(previous, result.ok, { failure, success }, options.definitive ?? false);
      const changed = next.state !== previous.state;
      statements.upsert.run({
        device,
        ...next,
        totalChecks: (row?.totalChecks ?? 0) + 1,
        totalFailures: (row?.totalFailures ?? 0) + (result.ok ? 0 : 1),
        lastOk: result.ok,
        lastReason: result.reason,
        lastDetail: result.detail ?? null,
        lastDurationMs: result.durationMs,
        lastCheckedAt: at,
        stateChangedAt: changed ? at : null,
      });
      statements.history.run({
        device,
        at,
        ok: result.ok,
        reason: result.reason,
        detail: result.detail ?? null,
        durationMs: result.durationMs,
        trigger,
      });
      // Keep the newest `history` results of this device.
      const cutoff = statements.cutoff.get({ device, skip: history - 1 })?.id ?? 0;
      statements.trim.run({ device, cutoff });

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
