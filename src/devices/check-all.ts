// One round of checks over a set of devices, in parallel with a bound, each
// device checked once even when several slots share it. Used by `labslot
// check` and by the agent's sweeps.
import { setMaxListeners } from 'node:events';
import pLimit from 'p-limit';
import type { CheckMode, CheckResult } from './check-result.js';
import type { DeviceChecker } from './device-checker.js';

export async function checkDevices(
  checker: DeviceChecker,
  devices: readonly string[],
  modeOf: (device: string) => CheckMode,
  signal: AbortSignal,
  concurrency: number,
): Promise<Map<string, CheckResult | null>> {
  // Every check in flight listens on this one signal; that is expected, not a leak.
  setMaxListeners(0, signal);
  const limit = pLimit(concurrency);
  const usb = checker.newUsbSnapshot();
  const unique = [...new Set(devices)];
  const results = await Promise.all(
    unique.map((name) => limit(async () => [name, await checker.check(name, modeOf(name), signal, usb)] as const)),
  );
  return new Map(results);
}
