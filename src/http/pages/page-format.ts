// Times as people read them on the status page: "12s ago", "3h 5m".
import { formatDuration } from '../../config/duration.js';

/** A span rounded to what matters at a glance: seconds under an hour's worth of minutes, no milliseconds past 10 s. */
export function roughDuration(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 10_000) return `${(ms / 1_000).toFixed(1)}s`;
  const unit = ms < 3_600_000 ? 1_000 : 60_000;
  return formatDuration(Math.round(ms / unit) * unit);
}

export function ago(at: number | string | null, now: number): string {
  if (at === null) return 'never';
  const ms = now - (typeof at === 'string' ? Date.parse(at) : at);
  return ms < 1_000 ? 'just now' : `${roughDuration(ms)} ago`;
}

/** ISO time without milliseconds, for title attributes and tables. */
export function clock(at: number | string): string {
  return new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
