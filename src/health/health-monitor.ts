// Checks every device continuously (DESIGN §2): each on its own jittered
// timer so checks do not stampede, in parallel under one concurrency bound,
// never two checks of one device at a time; USB hotplug triggers an immediate,
// debounced re-check. Results go through the HealthStore.
import { setMaxListeners } from 'node:events';
import pLimit from 'p-limit';
import type { LabModel } from '../config/lab-model.js';
import type { CheckMode, CheckResult } from '../devices/check-result.js';
import type { DeviceChecker, UsbSnapshot } from '../devices/device-checker.js';
import { checkHost, hostMinimums } from '../devices/host-check.js';
import { onUsb } from '../devices/usb-presence.js';
import { runCheck } from '../devices/run-check.js';
import { coerceError } from '../errors.js';
import type { Logger } from '../log.js';
import type { CheckTrigger, HealthStore, Transition } from './health-store.js';
import type { HotplugEvent, HotplugSource } from './usb-hotplug.js';

export interface HealthMonitorOptions {
  lab: LabModel;
  store: HealthStore;
  checker: DeviceChecker;
  log: Logger;
  /** Active checks only on devices whose slots are all idle. */
  modeOf: (device: string) => CheckMode;
  onTransition?: (transition: Transition) => void;
  hotplug?: HotplugSource;
  /** Debounce of hotplug bursts (a hub re-enumerating fires many events). */
  hotplugDebounceMs?: number;
  /**
   * Why this host may run no job at all, found at start (a network policy it cannot enforce): the
   * host stays unhealthy with this reason, so no slot is leased, while the status stays visible.
   */
  jobsRefused?: string;
}

export interface CheckNowOptions {
  /** Overrides the device's mode from `modeOf`. */
  mode?: CheckMode;
  /** A failure makes the device unhealthy at once instead of counting toward the threshold. */
  definitive?: boolean;
}

/** Sees every device check result the monitor records (for /metrics); must not throw. */
export type CheckResultListener = (device: string, result: CheckResult, trigger: CheckTrigger) => void;

/** Re-checks after a hotplug burst: at once, and again once udev has made the nodes. */
const HOTPLUG_RECHECK_MS = [0, 1_500];

export class HealthMonitor {
  private readonly controller = new AbortController();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Map<string, Promise<CheckResult | null>>();
  private readonly resultListeners = new Set<CheckResultListener>();
  private readonly limit: ReturnType<typeof pLimit>;
  private unsubscribeHotplug: (() => void) | undefined;
  private hotplugTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The last host check: an unhealthy host leases nothing. */
  host: CheckResult | null = null;

  constructor(private readonly options: HealthMonitorOptions) {
    this.limit = pLimit(options.lab.config.health.concurrency);
    setMaxListeners(0, this.controller.signal);
  }

  start(): void {
    const { lab } = this.options;
    // The first round is spread over at most a second, so a fresh agent knows its lab quickly.
    const spread = Math.min(lab.config.health.interval, 1_000);
    for (const device of lab.devices.keys()) this.after(Math.random() * spread, () => this.loop(device));
    this.after(0, () => this.hostLoop());
    this.unsubscribeHotplug = this.options.hotplug?.((event) => this.onHotplug(event));
  }

  /**
   * Checks these devices now (after any check of them already running) and records the results.
   * The pre-lease check passes `mode: 'active'` (its slot is reserved for it, so nothing else uses
   * the devices) and `definitive`, so one failure takes the device out of rotation at once.
   */
  async checkNow(
    devices: readonly string[],
    trigger: CheckTrigger,
    options: CheckNowOptions = {},
  ): Promise<Map<string, CheckResult | null>> {
    const usb = this.options.checker.newUsbSnapshot();
    const results = await Promise.all(
      [...new Set(devices)].map(async (d) => [d, await this.checkDevice(d, trigger, usb, false, options)] as const),
    );
    return new Map(results);
  }

  async checkHostNow(): Promise<CheckResult> {
    const { lab } = this.options;
    const checked = await runCheck(lab.config.health.timeout, this.controller.signal, () =>
      checkHost(hostMinimums(lab)),
    );
    const refused = this.options.jobsRefused;
    const result: CheckResult =
      refused === undefined
        ? checked
        : { ok: false, reason: refused, failure: 'error', durationMs: checked.durationMs };
    const previous = this.host;
    this.host = result;
    if (previous?.ok !== result.ok && !this.controller.signal.aborted) {
      // The first verdict is news only when it is bad; a healthy start is not worth a warning.
      if (previous !== null || !result.ok)
        this.options.log.warn({ ok: result.ok, reason: result.reason }, 'host health changed');
      this.options.store.recordHostChange(result.ok, result.reason);
    }
    return result;
  }

  /** Calls `listener` with every result a check of a device produced; returns the unsubscribe. */
  onResult(listener: CheckResultListener): () => void {
    this.resultListeners.add(listener);
    return () => this.resultListeners.delete(listener);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribeHotplug?.();
    clearTimeout(this.hotplugTimer);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.controller.abort(new Error('health monitor stopping'));
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /**
   * Checks of one device run one after another, under the shared concurrency
   * bound. A presence-only check (after a hotplug event) skips both: it is
   * cheap, never opens a device, and must not wait behind slow active checks
   * if an unplugged probe is to leave rotation at once (bench/hotplug measures how fast).
   */
  private checkDevice(
    device: string,
    trigger: CheckTrigger,
    usb?: UsbSnapshot,
    presenceOnly = false,
    options: CheckNowOptions = {},
  ): Promise<CheckResult | null> {
    if (presenceOnly) return this.runOne(device, trigger, usb, true, {});
    const before = this.inFlight.get(device) ?? Promise.resolve(null);
    const next = before.then(() => this.limit(() => this.runOne(device, trigger, usb, false, options)));
    this.inFlight.set(device, next);
    const forget = (): void => {
      if (this.inFlight.get(device) === next) this.inFlight.delete(device);
    };
    next.then(forget, forget);
    return next;
  }

  /**
   * `presenceOnly` runs the passive check, which only asks whether the device
   * is there; its failure is definitive: a probe that is not on the bus is gone,
   * not flaky, so it skips the failure threshold. Never rejects: a check or a
   * database write that fails is logged, and the agent goes on.
   */
  private async runOne(
    device: string,
    trigger: CheckTrigger,
    usb: UsbSnapshot | undefined,
    presenceOnly: boolean,
    options: CheckNowOptions,
  ): Promise<CheckResult | null> {
    if (this.stopped) return null;
    const { checker, store, modeOf, log, onTransition } = this.options;
    try {
      const mode = presenceOnly ? 'passive' : (options.mode ?? modeOf(device));
      const result = await checker.check(device, mode, this.controller.signal, usb);
      // A check cut short by our own stop says nothing about the device.
      if (result === null || this.controller.signal.aborted) return result;
      this.notifyResult(device, result, trigger);
      const transition = store.record(device, result, trigger, {
        definitive: (presenceOnly || options.definitive === true) && !result.ok,
      });
      if (transition) {
        log.info(
          { device, from: transition.from, to: transition.to, reason: result.reason, trigger },
          'device health changed',
        );
        onTransition?.(transition);
      }
      return result;
    } catch (error) {
      log.error({ err: coerceError(error), device, trigger }, 'device check could not be recorded');
      return null;
    }
  }

  /** A listener that throws is logged; it must not keep the result from being recorded. */
  private notifyResult(device: string, result: CheckResult, trigger: CheckTrigger): void {
    for (const listener of this.resultListeners) {
      try {
        listener(device, result, trigger);
      } catch (error) {
        this.options.log.error({ err: coerceError(error), device }, 'check result listener failed');
      }
    }
  }

  private async loop(device: string): Promise<void> {
    try {
      await this.checkDevice(device, 'interval');
    } catch (error) {
      this.options.log.error({ err: coerceError(error), device }, 'device check failed unexpectedly');
    }
    this.after(this.jittered(), () => this.loop(device));
  }

  private async hostLoop(): Promise<void> {
    try {
      await this.checkHostNow();
    } catch (error) {
      this.options.log.error({ err: coerceError(error) }, 'host check failed unexpectedly');
    }
    this.after(this.jittered(), () => this.hostLoop());
  }

  private onHotplug(event: HotplugEvent): void {
    clearTimeout(this.hotplugTimer);
    this.hotplugTimer = setTimeout(() => {
      const devices = [...this.options.lab.devices.values()].filter((d) => onUsb(d.spec)).map((d) => d.name);
      this.options.log.debug({ event, devices: devices.length }, 'usb hotplug, re-checking');
      for (const delay of HOTPLUG_RECHECK_MS) {
        this.after(delay, async () => {
          const usb = this.options.checker.newUsbSnapshot();
          await Promise.all(devices.map((d) => this.checkDevice(d, 'hotplug', usb, true)));
        });
      }
    }, this.options.hotplugDebounceMs ?? 50);
  }

  /** interval ± 10 %, so devices checked together at start drift apart. */
  private jittered(): number {
    return this.options.lab.config.health.interval * (0.9 + Math.random() * 0.2);
  }

  private after(ms: number, run: () => Promise<void>): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped)
        void run().catch((error: unknown) => this.options.log.error({ err: coerceError(error) }, 'health task failed'));
    }, ms);
    this.timers.add(timer);
  }
}
