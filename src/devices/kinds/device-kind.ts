// The one small interface every device kind implements (DESIGN §5), in the
// shape of labgrid's resource classes behind a registry: whatever labslot
// needs to know about a kind (how to describe, check, grant, expose and
// recover it) is asked of its module here, never switched on elsewhere.
import type { HumilityArchive } from '../../config/humility-archive.js';
import type { CheckContext, Verdict } from '../check-result.js';
import type { PowerAction } from '../power-control.js';
import type { PlaceholderResolver } from '../command-check.js';
import type { UsbDeviceInfo } from '../usb-bus.js';
import type { UsbIdentity } from '../usb-check.js';

/** What a check may use besides its own spec: the sweep's one USB enumeration, placeholder values. */
export interface KindCheckContext extends CheckContext {
  usb: () => Promise<UsbDeviceInfo[]>;
  placeholders: PlaceholderResolver;
}

/** The node a job is granted for a device; `{ node: null }` for kinds without one. */
export type NodeLookup = { node: string } | { node: null } | { missing: string };

/**
 * How a device sits on the USB bus, for udev rules, hotplug re-checks,
 * enumeration and shared-hardware conflicts. A `path` console is on some
 * adapter udev cannot name, but hotplug may still move it.
 */
export type UsbPresence =
  | { as: 'probe' | 'console'; identity: UsbIdentity; interface?: number | undefined; serialKey: string }
  | { as: 'console'; path: string };

/** One physical piece of hardware, from the raw TOML table so it is found even when another key is invalid. */
export interface HardwareKey {
  key: string;
  /** How to name it in "is already device ..." messages. */
  what: string;
  /** The config key path to point at, below `devices.NAME`. */
  at: PropertyKey[];
}

/** `{tty}`, `{usb_node}`, `{address}` in command checks: which kind fills one, from the device's job value. */
export type PlaceholderName = 'tty' | 'usb_node' | 'address';

/** A debug probe humility can name in HUMILITY_ENVIRONMENT. */
export interface HumilityProbeSpec {
  role: 'sp-probe' | 'rot-probe' | 'probe';
  /** vid:pid:serial, as humility's --probe takes it. */
  probe: string;
  archive: HumilityArchive | undefined;
}

/** A recovery step a device kind may do itself (the others are the slot's: power, a command). */
export type KindRecoveryStep = 'usb-reset' | 'usb-rebind';

/** What a kind's recovery step did. */
export interface RecoveryAttempt {
  ok: boolean;
  /** What was done or why it could not be: "reset 1fc9:0143 at 1-2.3", "not on the bus". */
  detail: string;
}

/** What a kind's recovery step may use: the one USB enumeration of the attempt, and the bound on it. */
export interface RecoveryContext {
  signal: AbortSignal;
  usb: () => Promise<UsbDeviceInfo[]>;
}

/**
 * Where a job's traffic to a device goes, for the per-worker network policy (DESIGN §8). `slot`: the
 * job of the device's own slot may reach it, no other job may. `none`: no job may (a power
 * controller: jobs switch power through the agent). No port: every port and ICMP.
 */
export interface DeviceEndpoint {
  reach: 'slot' | 'none';
  /** An IP literal or a host name (resolved when a worker's rules are made). */
  host: string;
  port?: number | undefined;
  /** The link of a link-local address. */
  interface?: string | undefined;
}

export interface DeviceKind<S> {
  /** One line for tables, the API and messages: "serial /dev/ttyUSB0 @115200". */
  describe(spec: S): string;
  /** False when the kind has only an active check: a passive sweep skips it (null result). */
  passive: boolean;
  /** Never throws: a broken or missing device is `{ ok: false, reason, failure }` naming it. */
  check(spec: S, ctx: KindCheckContext): Promise<Verdict>;
  /** How long a check may take before it counts as timed out, given the [health] timeout. */
  timeoutMs(spec: S, healthTimeoutMs: number): number;
  /** The device node a job is granted (re-owned to its group for the job's lifetime). */
  node(spec: S, usb: () => Promise<UsbDeviceInfo[]>): Promise<NodeLookup>;
  /** The job's LABSLOT_DEVICE_<NAME> value given the granted node; undefined: no variable. */
  env(spec: S, node: string | null): string | undefined;
  /** The placeholder this kind fills in command checks (its value is env()), if any. */
  placeholder: PlaceholderName | undefined;
  /** The key of its raw config table whose strings may hold placeholders (a command's argv), if any. */
  placeholdersIn: string | undefined;
  /** What a job's traffic to it goes to, for the network policy; [] for a device with no network address. */
  endpoints(spec: S): DeviceEndpoint[];
  /** Where it is on the USB bus, if it is USB hardware at all. */
  usb(spec: S): UsbPresence | undefined;
  /** The debug probe it is for humility, if it is one. */
  humilityProbe(spec: S): HumilityProbeSpec | undefined;
  /** Its hardware identity from the raw config table: one piece of hardware must be one device. */
  hardware(raw: Readonly<Record<string, unknown>>): HardwareKey | undefined;
  /**
   * How to switch it, if it is a power outlet (`labslot worker power`, `labslot power`,
   * `power_after_job`); the signal bounds the switch. Undefined: the kind switches nothing.
   */
  outlet: ((spec: S, action: PowerAction, signal: AbortSignal) => Promise<void>) | undefined;
  /**
   * A bounded attempt to bring an unhealthy device back by the kind's own
   * means (DESIGN §9): reset or rebind a USB device. Undefined: the kind cannot
   * do that step (the config check refuses it for such a device).
   */
  recover(spec: S, step: KindRecoveryStep, ctx: RecoveryContext): Promise<RecoveryAttempt | undefined>;
}

/** The recover() of a kind that cannot reset or rebind anything (not USB hardware). */
export function nothingToRecover(): Promise<undefined> {
  return Promise.resolve(undefined);
}
