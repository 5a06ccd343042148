// What each group of /metrics gauges and counters implements: the agent's
// metrics refresh every group at scrape time, each on its own, so one group
// that fails (a locked database, an odd row) costs its series, not the scrape.

export interface ScrapeCollector {
  /** For the log and the collector-errors counter. */
  readonly name: string;
  /** Brings the group's metrics up to date; may throw. */
  refresh(now: number): void;
  /** After a failed refresh: drops series that would otherwise show stale values (counters have none). */
  clear?(): void;
}
