// A device's last 24 hours as a small inline SVG: one column per time bucket,
// green when every check in it passed and red when any failed, with the
// slowest check's latency drawn above on a log scale up to the check timeout.
// Buckets keep the drawing the same size however many results are kept;
// neighbouring buckets of one colour are drawn as one bar, so a quiet day is a
// few elements, and each bar's <title> tells what happened on hover, without
// JavaScript.
import type { FC } from 'hono/jsx';
import type { StoredResult } from '../../db/check-history.js';
import { plural } from '../../words.js';
import { clock } from './page-format.js';

export const TIMELINE_WINDOW_MS = 24 * 3_600_000;
const BUCKETS = 288; // 5 minutes each
const WIDTH = 720;
const PLOT_TOP = 4;
const PLOT_HEIGHT = 34;
const BAND_TOP = 42;
const BAND_HEIGHT = 10;
const HEIGHT = 66;

interface Bucket {
  start: number;
  checks: number;
  failures: number;
  slowestMs: number;
  firstFailure: string | null;
}

function bucketResults(results: readonly StoredResult[], now: number): Bucket[] {
  const size = TIMELINE_WINDOW_MS / BUCKETS;
  const start = now - TIMELINE_WINDOW_MS;
  const buckets: Bucket[] = Array.from({ length: BUCKETS }, (_, i) => ({
    start: start + i * size,
    checks: 0,
    failures: 0,
    slowestMs: 0,
    firstFailure: null,
  }));
  for (const r of results) {
    const bucket = buckets[Math.min(BUCKETS - 1, Math.floor((r.at - start) / size))];
    if (bucket === undefined) continue; // older than the window (or from a clock that ran ahead)
    bucket.checks += 1;
    bucket.slowestMs = Math.max(bucket.slowestMs, r.durationMs);
    if (!r.ok) {
      bucket.failures += 1;
      bucket.firstFailure ??= r.reason;
    }
  }
  return buckets;
}

export const HealthTimeline: FC<{
  device: string;
  results: readonly StoredResult[];
  now: number;
  timeoutMs: number;
}> = ({ device, results, now, timeoutMs }) => {
  const buckets = bucketResults(results, now);
  const column = WIDTH / BUCKETS;
  // Log scale from 1 ms to the check timeout: a 2 ms ping and a 5 s probe both stay readable.
  const top = Math.log10(Math.max(10, timeoutMs));
  const y = (ms: number): number => PLOT_TOP + PLOT_HEIGHT * (1 - Math.min(1, Math.log10(Math.max(1, ms)) / top));
  const points = buckets.flatMap((b, i) =>
    b.checks === 0 ? [] : [`${(i * column + column / 2).toFixed(1)},${y(b.slowestMs).toFixed(1)}`],
  );
  const checks = buckets.reduce((n, b) => n + b.checks, 0);
  const failures = buckets.reduce((n, b) => n + b.failures, 0);
  return (
    <svg
      class="timeline"
      role="img"
      viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
      width={WIDTH}
      height={HEIGHT}
      data-device={device}
      data-checks={checks}
      data-failures={failures}
    >
      <title>{`${device}: ${plural(checks, 'check')} in the last 24 h, ${failures} failed`}</title>
      <rect x="0" y={PLOT_TOP} width={WIDTH} height={PLOT_HEIGHT} fill="#f6f8fa" />
      {[6, 12, 18].map((h) => {
        const x = (WIDTH * h) / 24;
        return <line x1={x} x2={x} y1={PLOT_TOP} y2={BAND_TOP + BAND_HEIGHT} stroke="#d0d7de" stroke-width="1" />;
      })}
      {points.length > 1 ? (
        <polyline points={points.join(' ')} fill="none" stroke="#0969da" stroke-width="1.2" />
      ) : null}
      {bars(buckets).map((bar) => (
        <rect
          x={(bar.first * column).toFixed(2)}
          y={BAND_TOP}
          width={Math.max(1, (bar.last - bar.first + 1) * column - 0.3).toFixed(2)}
          height={BAND_HEIGHT}
          fill={bar.failed ? '#cf222e' : '#2da44e'}
          class={bar.failed ? 'failed' : 'passed'}
        >
          <title>{barTitle(bar, buckets)}</title>
        </rect>
      ))}
      <text x="0" y={HEIGHT - 2} font-size="9" fill="#57606a">
        -24h
      </text>
      <text x={WIDTH / 4} y={HEIGHT - 2} font-size="9" fill="#57606a" text-anchor="middle">
        -18h
      </text>
      <text x={WIDTH / 2} y={HEIGHT - 2} font-size="9" fill="#57606a" text-anchor="middle">
        -12h
      </text>
      <text x={(WIDTH * 3) / 4} y={HEIGHT - 2} font-size="9" fill="#57606a" text-anchor="middle">
        -6h
      </text>
      <text x={WIDTH} y={HEIGHT - 2} font-size="9" fill="#57606a" text-anchor="end">
        now
      </text>
      <text x={WIDTH - 2} y={PLOT_TOP + 9} font-size="9" fill="#57606a" text-anchor="end">{`${timeoutMs} ms`}</text>
      <text x={WIDTH - 2} y={PLOT_TOP + PLOT_HEIGHT - 2} font-size="9" fill="#57606a" text-anchor="end">
        1 ms
      </text>
    </svg>
  );
};

interface Bar {
  first: number;
  last: number;
  failed: boolean;
}

/** Runs of neighbouring checked buckets with the same verdict; a gap without checks ends a run. */
function bars(buckets: readonly Bucket[]): Bar[] {
  const out: Bar[] = [];
  buckets.forEach((b, i) => {
    if (b.checks === 0) return;
    const failed = b.failures > 0;
    const open = out.at(-1);
    if (open !== undefined && open.last === i - 1 && open.failed === failed) open.last = i;
    else out.push({ first: i, last: i, failed });
  });
  return out;
}

function barTitle(bar: Bar, buckets: readonly Bucket[]): string {
  const run = buckets.slice(bar.first, bar.last + 1);
  const checks = run.reduce((n, b) => n + b.checks, 0);
  const failures = run.reduce((n, b) => n + b.failures, 0);
  const slowest = Math.max(...run.map((b) => b.slowestMs));
  const firstFailure = run.find((b) => b.firstFailure !== null)?.firstFailure ?? '';
  const end = (run.at(-1)?.start ?? 0) + TIMELINE_WINDOW_MS / BUCKETS;
  const what = failures === 0 ? `${checks} passed` : `${failures} of ${checks} failed, first: ${firstFailure}`;
  return `${clock(run[0]?.start ?? 0)} to ${clock(end)}: ${what}; slowest ${slowest} ms`;
}
