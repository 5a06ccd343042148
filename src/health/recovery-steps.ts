// Running one recovery step of a slot (DESIGN §9), each bounded: a power cycle
// of the slot's outlets (through the same drivers and events as `labslot
// power`, then the boot wait), a USB reset or rebind by the device's kind, or
// the configured command. A step never throws: it says what it did.
import { setTimeout as sleep } from 'node:timers/promises';
import type { LabModel, SlotModel } from '../config/lab-model.js';
import type { Db } from '../db/open-database.js';
import type { RecoveryStep } from '../config/schema.js';
import type { KindRecoveryStep } from '../devices/kinds/device-kind.js';
import { kindOf } from '../devices/kinds/registry.js';
import type { UsbDeviceInfo } from '../devices/usb-bus.js';
import { coerceError } from '../errors.js';
import type { Logger } from '../log.js';
import { lastLines, runProcess } from '../platform/run-process.js';
import { switchSlotPower } from '../slots/slot-power.js';
import type { PlannedStep } from './recovery-plan.js';

export interface StepContext {
  lab: LabModel;
  db: Db;
  log: Logger;
  slot: SlotModel;
  signal: AbortSignal;
  usb: () => Promise<UsbDeviceInfo[]>;
}

export interface StepResult {
  ok: boolean;
  detail: string;
}

/** What each step does: a table, so every step of the config has its runner (a step missing here does not compile). */
const STEPS: Record<RecoveryStep, (planned: PlannedStep, ctx: StepContext, bound: AbortSignal) => Promise<StepResult>> =
  {
    'power-cycle': async (_planned, ctx) => {
      const settings = ctx.lab.config.recovery;
      const switched = await switchSlotPower(
        ctx,
        { slot: ctx.slot.name, action: 'cycle', device: undefined },
        { actor: 'labslot', by: 'recovery', slotWords: `slot ${ctx.slot.name}` },
        settings.step_timeout,
      );
      // The board boots before anything can answer: the re-check waits for it.
      await sleep(settings.boot_wait, undefined, { signal: ctx.signal });
      return { ok: true, detail: `cycled ${switched.devices.join(', ')}, waited ${settings.boot_wait / 1000} s` };
    },
    'usb-reset': (planned, ctx, bound) => kindStep('usb-reset', planned, ctx, bound),
    'usb-rebind': (planned, ctx, bound) => kindStep('usb-rebind', planned, ctx, bound),
    // The step named "command" (not the device kind): the configured recover_command.
    command: async (planned, ctx) => {
      const argv = planned.command;
      if (argv === undefined) return { ok: false, detail: 'no recover_command to run' };
      const result = await runProcess(argv, { timeoutMs: ctx.lab.config.recovery.step_timeout, signal: ctx.signal });
      const what = argv.join(' ');
      if (result.code === 0) return { ok: true, detail: `${what}: exit 0` };
      const why =
        result.spawnError?.message ?? (result.timedOut ? 'timed out' : `exit ${result.code ?? result.signal}`);
      return { ok: false, detail: `${what}: ${why} ${lastLines(result.output, 2)}`.trim() };
    },
  };

/** A USB reset or rebind, done by each failing device's own kind. */
async function kindStep(
  step: KindRecoveryStep,
  planned: PlannedStep,
  ctx: StepContext,
  bound: AbortSignal,
): Promise<StepResult> {
  const done: string[] = [];
  let ok = true;
  for (const device of planned.devices) {
    const spec = ctx.lab.devices.get(device)?.spec;
    const attempt = spec && (await kindOf(spec).recover(spec, step, { signal: bound, usb: ctx.usb }));
    ok &&= attempt?.ok === true;
    done.push(`${device}: ${attempt?.detail ?? `cannot ${step}`}`);
  }
  return { ok, detail: done.join('; ') };
}

export async function runStep(planned: PlannedStep, ctx: StepContext): Promise<StepResult> {
  const bound = AbortSignal.any([ctx.signal, AbortSignal.timeout(ctx.lab.config.recovery.step_timeout)]);
  try {
    return await STEPS[planned.step](planned, ctx, bound);
  } catch (error) {
    return { ok: false, detail: ctx.signal.aborted ? 'cut short: the agent is stopping' : coerceError(error).message };
  }
}
