// Switching a slot's power outlets on request: a job its own slot's
// (`labslot worker power`), an operator any slot's (`labslot power`), and the
// lease's cleanup as `power_after_job` says. Through the same drivers the
// health checks use (the power kind's outlet()); every switch, done or failed,
// is an audit event naming who asked. The switch is bounded by a timeout, so a
// wedged pdudaemon or outlet command cannot hold a request forever.
import type { LabModel } from '../config/lab-model.js';
import { recordEvent } from '../db/event-log.js';
import type { Db } from '../db/open-database.js';
import { kindOf } from '../devices/kinds/registry.js';
import type { PowerAction } from '../devices/power-control.js';
import { coerceError } from '../errors.js';
import type { Logger } from '../log.js';

/** How long one request's switches may take together (pdudaemon answers in ~30 ms; a command driver may take longer). */
export const POWER_SWITCH_TIMEOUT_MS = 30_000;

/** A device name that is not a power device of the lab at all. */
export class UnknownPowerDeviceError extends Error {
  override readonly name = 'UnknownPowerDeviceError';
}

/** A power device of the lab that is not in the slot asked about (another slot's outlet). */
export class ForeignPowerDeviceError extends Error {
  override readonly name = 'ForeignPowerDeviceError';
}

/** The slot has no power device to switch. */
export class NoPowerDeviceError extends Error {
  override readonly name = 'NoPowerDeviceError';
}

/** A switch the driver could not do (pdudaemon refused or unreachable, a command failed, the timeout). */
export class PowerSwitchError extends Error {
  override readonly name = 'PowerSwitchError';
}

export interface PowerDeps {
  lab: LabModel;
  db: Db;
  log: Logger;
}

export interface PowerRequest {
  slot: string;
  action: PowerAction;
  /** One outlet by device name; undefined: every outlet of the slot. */
  device: string | undefined;
}

/** Who asks, for the events and the messages. */
export interface PowerCaller {
  /** The token's role and hash prefix (`operator:1a2b3c4d`, `worker:w-...`), or `labslot` for power_after_job. */
  actor: string;
  /** As the events' message names the caller: "job J (worker W)", "alice@lab-1 (operator:1a2b3c4d)". */
  by: string;
  jobId?: string | undefined;
  workerId?: string | undefined;
  /** How a refusal names the slot: "this job's slot gimlet-1" for a job. */
  slotWords: string;
}

export interface PowerResult {
  slot: string;
  action: PowerAction;
  /** The devices switched, in the slot's order. */
  devices: string[];
}

/** The slot's devices whose kind switches power, in the config's order. */
export function outletsOf(lab: LabModel, slot: string): string[] {
  return (lab.slots.get(slot)?.devices ?? []).filter((name) => {
    const spec = lab.devices.get(name)?.spec;
    return spec !== undefined && kindOf(spec).outlet !== undefined;
  });
}

/** The outlets a request names; refuses a device that is unknown, not an outlet, or another slot's. */
export function outletsToSwitch(
  lab: LabModel,
  request: PowerRequest,
  caller: Pick<PowerCaller, 'slotWords'>,
): string[] {
  const outlets = outletsOf(lab, request.slot);
  const { device } = request;
  if (device === undefined) {
    if (outlets.length === 0) throw new NoPowerDeviceError(`${caller.slotWords} has no power device to switch`);
    return outlets;
  }
  const model = lab.devices.get(device);
  if (model === undefined || kindOf(model.spec).outlet === undefined) {
    const what = model === undefined ? `no device named "${device}"` : `device "${device}" is not a power device`;
    throw new UnknownPowerDeviceError(
      `${what}; the power devices of ${caller.slotWords}: ${outlets.length === 0 ? 'none' : outlets.join(', ')}`,
    );
  }
  if (!outlets.includes(device)) {
    const owners = model.usedBy.length === 0 ? 'no slot' : `slot ${model.usedBy.join(', ')}`;
    throw new ForeignPowerDeviceError(`power device ${device} belongs to ${owners}, not to ${caller.slotWords}`);
  }
  return [device];
}

/**
 * Switches the outlets a request names, all at once, and records an event per
 * outlet. Rejects with PowerSwitchError naming each outlet that failed (the
 * others were switched, and their events say so).
 */
export async function switchSlotPower(
  deps: PowerDeps,
  request: PowerRequest,
  caller: PowerCaller,
  timeoutMs = POWER_SWITCH_TIMEOUT_MS,
): Promise<PowerResult> {
  const devices = outletsToSwitch(deps.lab, request, caller);
  const signal = AbortSignal.timeout(timeoutMs);
  const failures: string[] = [];
  await Promise.all(
    devices.map(async (device) => {
      const spec = deps.lab.devices.get(device)?.spec;
      const outlet = spec && kindOf(spec).outlet;
      const event = { slot: request.slot, device, jobId: caller.jobId, workerId: caller.workerId, actor: caller.actor };
      const data = { action: request.action, by: caller.by };
      try {
        if (spec === undefined || outlet === undefined) throw new Error('not a power device');
        await outlet(spec, request.action, signal);
      } catch (error) {
        const why = signal.aborted ? `no answer within ${timeoutMs / 1000} s` : coerceError(error).message;
        failures.push(`${device}: ${why}`);
        deps.log.warn(
          { slot: request.slot, device, action: request.action, err: coerceError(error) },
          'power switch failed',
        );
        recordEvent(deps.db, {
          ...event,
          type: 'slot.power-failed',
          message: `power ${request.action} of ${device} in ${request.slot} by ${caller.by} failed: ${why}`,
          data,
        });
        return;
      }
      deps.log.info({ slot: request.slot, device, action: request.action, actor: caller.actor }, 'power switched');
      recordEvent(deps.db, {
        ...event,
        type: 'slot.power',
        message: `power ${request.action} of ${device} in ${request.slot} by ${caller.by}`,
        data,
      });
    }),
  );
  if (failures.length > 0)
    throw new PowerSwitchError(`power ${request.action} in ${request.slot} failed: ${failures.sort().join('; ')}`);
  return { slot: request.slot, action: request.action, devices };
}
