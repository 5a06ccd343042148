// Which recovery steps a slot's failing devices get, in order (DESIGN §9):
// each device's own `recover` list, or else its slot's. A step several devices
// share (one power cycle of the slot) runs once, for all of them, where it
// first appears.
import type { LabModel, SlotModel } from '../config/lab-model.js';
import type { RecoveryStep } from '../config/schema.js';

export interface PlannedStep {
  step: RecoveryStep;
  /** The failing devices this step is for. */
  devices: string[];
  /** The argv of a "command" step: the first of its devices' own, else the slot's. */
  command?: readonly string[] | undefined;
}

export function recoveryPlan(lab: LabModel, slot: SlotModel, failing: readonly string[]): PlannedStep[] {
  const plan: PlannedStep[] = [];
  for (const device of failing) {
    const spec = lab.devices.get(device)?.spec;
    if (spec === undefined) continue;
    for (const step of spec.recover ?? slot.spec.recover ?? []) {
      const planned = plan.find((p) => p.step === step);
      if (planned !== undefined) planned.devices.push(device);
      else
        plan.push({
          step,
          devices: [device],
          ...(step === 'command' ? { command: spec.recover_command ?? slot.spec.recover_command } : {}),
        });
    }
  }
  return plan;
}

/** Whether any device of the slot could be recovered at all (a slot with no steps anywhere is left as today). */
export function hasRecovery(lab: LabModel, slot: SlotModel): boolean {
  return recoveryPlan(lab, slot, slot.devices).length > 0;
}
