// What `labslot check` does once its arguments are parsed: every check once,
// without an agent. Exit 0 when everything is healthy, 1 when anything is
// not. On a lab host whose agent has leased slots, those slots get passive
// checks only: a job's console is never opened behind its back.
import type { LabModel } from '../config/lab-model.js';
import { DatabaseError, openDatabaseReadOnly } from '../db/open-database.js';
import { checkDevices } from '../devices/check-all.js';
import { checkResultJson, SKIPPED_ON_LEASED_SLOT, type CheckMode, type CheckResult } from '../devices/check-result.js';
import { DeviceChecker } from '../devices/device-checker.js';
import { checkHost, hostMinimums } from '../devices/host-check.js';
import { runCheck } from '../devices/run-check.js';
import { checkModeFor } from '../health/check-mode.js';
import type { CheckOptions } from './check.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import { formatTable } from './format-table.js';
import { loadLab } from './load-lab.js';

/** Resolves with the exit code: 0 when all is healthy, 1 when anything is not. */
export async function checkOnce(options: CheckOptions): Promise<number> {
  const lab = loadLab(options);
  if (options.slot !== undefined && !lab.slots.has(options.slot)) {
    throw new CliError(`no slot named "${options.slot}" (slots: ${[...lab.slots.keys()].join(', ')})`, EXIT_USAGE);
  }
  const slots = [...lab.slots.values()].filter((s) => options.slot === undefined || s.name === options.slot);
  const modeOf = leaseAwareMode(lab);
  // Ctrl-C ends the checks (and their programs, which run in their own process groups).
  const controller = new AbortController();
  const onSignal = (): void => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let host: CheckResult;
  let results: Map<string, CheckResult | null>;
  try {
    [host, results] = await Promise.all([
      runCheck(lab.config.health.timeout, controller.signal, () => checkHost(hostMinimums(lab))),
      checkDevices(
        new DeviceChecker(lab),
        slots.flatMap((s) => s.devices),
        modeOf,
        controller.signal,
        lab.config.health.concurrency,
      ),
    ]);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (controller.signal.aborted) throw new CliError('interrupted; checks stopped', EXIT_FAILURE);

  const rows = slots.flatMap((slot) =>
    slot.devices.map((device) => ({
      slot: slot.name,
      device,
      kind: lab.devices.get(device)?.spec.kind ?? '?',
      result: results.get(device) ?? null,
    })),
  );
  const allOk = host.ok && rows.every((r) => r.result?.ok !== false);
  if (options.json === true) {
    const json = {
      healthy: allOk,
      host: checkResultJson(host),
      slots: slots.map((slot) => ({
        name: slot.name,
        target: slot.target,
        healthy: slot.devices.every((d) => results.get(d)?.ok !== false),
        devices: rows
          .filter((r) => r.slot === slot.name)
          .map((r) => ({ name: r.device, kind: r.kind, ...checkResultJson(r.result) })),
      })),
    };
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  } else {
    const table = [
      ['SLOT', 'DEVICE', 'KIND', 'OK', 'REASON', 'MS'],
      ['-', 'host', 'host', host.ok ? 'yes' : 'NO', host.reason, String(host.durationMs)],
      ...rows.map((r) => [
        r.slot,
        r.device,
        r.kind,
        r.result === null ? '-' : r.result.ok ? 'yes' : 'NO',
        r.result?.reason ?? SKIPPED_ON_LEASED_SLOT,
        String(r.result?.durationMs ?? ''),
      ]),
    ];
    process.stdout.write(formatTable(table));
  }
  return allOk ? EXIT_OK : EXIT_FAILURE;
}

/** Active checks wherever the agent (if there is one on this host) has not leased the slot. */
function leaseAwareMode(lab: LabModel): (device: string) => CheckMode {
  try {
    const db = openDatabaseReadOnly(lab.stateDir);
    return db === undefined ? () => 'active' : (device) => checkModeFor(lab, db, device);
  } catch (error) {
    if (!(error instanceof DatabaseError)) throw error;
    process.stderr.write(`labslot: warning: ${error.message}; leases unknown, so only passive checks run\n`);
    return () => 'passive';
  }
}
