// Small pieces the guest-side scripts use (usb-guest.ts, usb-cli-guest.ts, the
// hotplug benchmark): JSON-line reports on the serial console, sysfs reads,
// waits with deadlines, and where to leave files for the host to read.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const SYSFS_USB = '/sys/bus/usb/devices';

/**
 * Set by qemu-usb-lab.ts for the guest program: a directory on the share the
 * host reads back. What is written there reaches the host at once (the share
 * has no cache), so it survives this process, the guest's watchdog and QEMU
 * being killed; the host prints the tail of every file in it when a wait on
 * the guest fails.
 */
export const DIAG_DIR_ENV = 'LABSLOT_USB_LAB_DIAG';

/** A path in that directory, or undefined outside the lab. */
export function diagPath(name: string): string | undefined {
  const dir = process.env[DIAG_DIR_ENV];
  return dir === undefined || dir === '' ? undefined : join(dir, name);
}

/** One JSON line on stdout, which the host reads from the guest's serial console. */
export const emit = (message: Record<string, unknown>): void =>
  void process.stdout.write(`${JSON.stringify(message)}\n`);
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export const errorText = (error: unknown): string =>
  error instanceof Error ? (error.stack ?? error.message) : String(error);

/** What a guest program tells `runGuestProgram` as it goes, for its failure report. */
export interface GuestSteps {
  /** The step now under way, named in the report should the program fail or be stopped during it. */
  step(name: string): void;
  /** More for the failure report (e.g. a child's stderr and log), read when it is made. */
  onFailure(describe: () => string): void;
}

/**
 * Runs a guest program's main: `{"phase":"done"}` and exit 0 when it resolves;
 * otherwise one `{"phase":"error"}` line naming the step, with the error and
 * everything registered by `onFailure`, and exit 1. The guest's watchdog
 * (SIGTERM from `timeout` in qemu-usb-lab.ts) is reported the same way, so a
 * program that runs out of time says where and why rather than vanishing.
 */
export function runGuestProgram(main: (steps: GuestSteps) => Promise<void>): void {
  let current = 'start';
  const extras: (() => string)[] = [];
  const fail = (error: string): never => {
    const more = extras.map((describe) => {
      try {
        return describe();
      } catch (e) {
        return `(could not describe: ${messageOf(e)})`;
      }
    });
    // stdout is a file here: the write is synchronous, so nothing is lost to the exit.
    emit({ phase: 'error', step: current, error: [error, ...more].join('\n') });
    process.exit(1);
  };
  process.once('SIGTERM', () =>
    fail(`stopped by the guest's watchdog (SIGTERM: out of time) during the step: ${current}`),
  );
  main({ step: (name) => (current = name), onFailure: (describe) => extras.push(describe) }).then(
    () => {
      emit({ phase: 'done' });
      process.exit(0); // libusb's event thread or a child's pipes would keep the process alive
    },
    (error: unknown) => fail(errorText(error)),
  );
}
