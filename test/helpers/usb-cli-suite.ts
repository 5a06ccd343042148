// What the USB command-line test files share around their guest: one guest per
// file, started by the first test that needs it, killed (by PID) when the
// file's suite ends, within the runner's 120 s per file (scripts/run-tests.mjs)
// so no QEMU outlives its test process.
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { scriptCleanup } from './cleanup.js';
import type { CliGuestPlan } from './usb-cli-guest.js';
import { startCliLab, type CliLab } from './usb-cli-lab.js';

const GUEST_SCRIPT = fileURLToPath(new URL('usb-cli-guest.ts', import.meta.url));

/** Call inside `describe`: returns the suite's guest, running `labslot check` in `mode`. */
export function guestForSuite(mode: CliGuestPlan['mode']): () => Promise<CliLab> {
  const cleanup = scriptCleanup();
  after(() => cleanup.runAll());
  let lab: Promise<CliLab> | undefined;
  const extra: Pick<CliGuestPlan, 'mode'> = { mode };
  return () => (lab ??= startCliLab(cleanup, { script: GUEST_SCRIPT, extra, timeoutMs: 115_000 }));
}

/** Milliseconds as seconds, for diagnostics. */
export function seconds(value: number | undefined): string {
  return value === undefined ? '?' : `${(value / 1000).toFixed(1)} s`;
}
