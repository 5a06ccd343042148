// Waits, through the agent's own API, until every slot could take a job:
// healthy, idle and the host checked. A hold is fine (a --dir run keeps the
// holds of the last one). On timeout the error names each device that is not
// healthy and the reason of its last check.
import { setTimeout as sleep } from 'node:timers/promises';
import type { SlotView } from '../api/slot.js';
import { DemoError } from './demo-error.js';

/** The token makes this work on any --listen: beyond loopback, reads need one. */
export async function waitSlotsAvailable(
  url: string,
  token: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<SlotView[]> {
  const deadline = Date.now() + timeoutMs;
  let slots: SlotView[] = [];
  for (;;) {
    signal.throwIfAborted();
    try {
      const response = await fetch(`${url}/v1/slots`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.any([signal, AbortSignal.timeout(5_000)]),
      });
      const body = (await response.json()) as { slots?: unknown };
      if (response.ok && Array.isArray(body.slots)) slots = body.slots as SlotView[];
      if (slots.length > 0 && slots.every(ready)) return slots;
    } catch (error) {
      if (signal.aborted) throw error;
      // The agent answers once it listens; a refused or slow request is retried until the deadline.
    }
    if (Date.now() > deadline)
      throw new DemoError(`the demo slots were not ready within ${timeoutMs / 1000} s: ${notReady(slots)}`, 'failed');
    await sleep(100, undefined, { signal });
  }
}

function ready(slot: SlotView): boolean {
  return slot.available || (slot.health === 'healthy' && slot.unavailable?.kind === 'held');
}

function notReady(slots: readonly SlotView[]): string {
  if (slots.length === 0) return 'the agent never listed its slots';
  const problems = slots.flatMap((slot) => {
    const devices = slot.devices
      .filter((d) => d.health !== 'healthy')
      .map((d) => `${d.name} ${d.health}${d.last_check?.reason ? ` (${d.last_check.reason})` : ''}`);
    if (devices.length > 0) return [`${slot.name}: ${devices.join(', ')}`];
    return ready(slot)
      ? []
      : [
          `${slot.name}: ${slot.unavailable ? `${slot.unavailable.kind}: ${slot.unavailable.detail}` : 'not available'}`,
        ];
  });
  return problems.join('; ');
}
