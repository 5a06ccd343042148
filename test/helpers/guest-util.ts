// Small pieces both guest-side scripts use (usb-guest.ts, usb-cli-guest.ts):
// JSON-line reports on the serial console, sysfs reads, and waits with deadlines.
import { readFileSync } from 'node:fs';

export const SYSFS_USB = '/sys/bus/usb/devices';

/** One JSON line on stdout, which the host reads from the guest's serial console. */
export const emit = (message: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(message)}\n`);
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Polls `probe` until it returns a value, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number, everyMs = 20): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
