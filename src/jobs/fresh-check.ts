// The fresh pre-lease check (DESIGN §2): every device of the slot checked now,
// actively, its results fed to the same counters as any other check. A slot
// is handed to a job only if this passes, whoever asks (this host's queue or
// the lab's).
import type { SlotModel } from '../config/lab-model.js';
import type { HealthMonitor } from '../health/health-monitor.js';

export type FreshCheck = { ok: true } | { ok: false; why: string };

export async function freshCheck(monitor: HealthMonitor, slot: SlotModel): Promise<FreshCheck> {
  const results = await monitor.checkNow(slot.devices, 'pre-lease', { mode: 'active', definitive: true });
  const failed = [...results].filter(([, r]) => r?.ok !== true);
  if (failed.length === 0) return { ok: true };
  return {
    ok: false,
    why: failed.map(([device, r]) => `${device}: ${r?.reason ?? 'not checked (agent stopping)'}`).join('; '),
  };
}
