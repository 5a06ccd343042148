// Which checks a device may get now (DESIGN §2): active checks (console probe,
// command) only while every slot using it is idle; otherwise a job may be
// using the device, and only passive checks run.
import type { LabModel } from '../config/lab-model.js';
import type { Db } from '../db/open-database.js';
import type { CheckMode } from '../devices/check-result.js';
import { readSlotStates } from '../slots/slot-states.js';

export function checkModeFor(lab: LabModel, db: Db, device: string): CheckMode {
  const users = lab.devices.get(device)?.usedBy ?? [];
  const states = readSlotStates(db, users);
  // A slot recovering is the agent's own, like an idle one: its consoles can be probed.
  return users.every((slot) => ['idle', 'recovering'].includes(states.get(slot)?.usage ?? 'idle'))
    ? 'active'
    : 'passive';
}
