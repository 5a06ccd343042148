// Recovery before quarantine (DESIGN §9): what a lab technician does with a
// wedged testbed, within bounds. A slot whose device turned unhealthy while no
// job had it (or whose pre-lease check failed, once the slot is idle again) is
// taken for recovery; its devices' steps run in order (power cycle, USB reset
// or rebind, a command), each followed by a re-check of the failing devices.
// Back to healthy: the slot returns to rotation with nobody involved. Out of
// rounds ([recovery] max_attempts per window): a `system` hold whose reason
// lists every step and its result. A device whose health flips too often is
// held as flapping. Never under a job, never on a held slot, never two
// conflicting slots at once (a shared outlet); every step is an event.
import type { LabModel, SlotModel } from '../config/lab-model.js';
import type { Db } from '../db/open-database.js';
import { recordEvent } from '../db/event-log.js';
import { deviceHealth } from '../db/schema.js';
import type { UsbDeviceInfo } from '../devices/usb-bus.js';
import { coerceError } from '../errors.js';
import type { Logger } from '../log.js';
import { holdSlot, keepHoldAfterRecovery, releaseRecoverFirstHold } from '../slots/holds.js';
import { readSlotStates } from '../slots/slot-states.js';
import { inArray } from 'drizzle-orm';
import type { HealthMonitor } from './health-monitor.js';
import type { Transition } from './health-store.js';
import { hasRecovery, recoveryPlan } from './recovery-plan.js';
import { beginRecovery, endRecovery, healthChangesSince, lastReleaseAt, roundsSince } from './recovery-records.js';
import { runStep } from './recovery-steps.js';

/** How often idle slots with failing devices are looked for (transitions also look at once). */
const SWEEP_MS = 1_000;
/** A hold's reason is read by people: the story of every step, cut at this length. */
const MAX_REASON = 2_000;

export interface SlotRecoveryDeps {
  lab: LabModel;
  db: Db;
  log: Logger;
  monitor: HealthMonitor;
  usb: () => Promise<UsbDeviceInfo[]>;
  /** A slot came back (or was held): the scheduler looks again. */
  poke: () => void;
}

export class SlotRecovery {
  private readonly controller = new AbortController();
  private readonly running = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Slots with recovery steps anywhere: the config is fixed while the agent runs, and the sweep runs every second. */
  private readonly recoverable: readonly SlotModel[];

  constructor(private readonly deps: SlotRecoveryDeps) {
    this.recoverable = [...deps.lab.slots.values()].filter((s) => hasRecovery(deps.lab, s));
  }

  start(): void {
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  /** A device changed health: flapping is judged now, and a device gone bad is looked at at once. */
  onTransition(transition: Transition): void {
    if (this.stopped) return;
    try {
      this.judgeFlapping(transition);
    } catch (error) {
      this.deps.log.error({ err: coerceError(error), device: transition.device }, 'flapping check failed');
    }
    if (transition.to === 'unhealthy') setImmediate(() => this.sweep());
  }

  /** Whether recovery has the slot now (the scheduler leaves it alone anyway: it is not idle). */
  isRecovering(slot: string): boolean {
    return this.running.has(slot);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.controller.abort(new Error('the agent is stopping'));
    await Promise.allSettled([...this.running.values()]);
  }

  private sweep(): void {
    if (this.stopped) return;
    const { lab, db } = this.deps;
    try {
      const candidates = this.recoverable.filter((s) => !this.running.has(s.name));
      if (candidates.length === 0) return;
      const states = readSlotStates(
        db,
        candidates.map((s) => s.name),
      );
      const devices = [...new Set(candidates.flatMap((s) => s.devices))];
      const health = new Map(
        db
          .select({
            device: deviceHealth.device,
            state: deviceHealth.state,
            lastOk: deviceHealth.lastOk,
            since: deviceHealth.stateChangedAt,
          })
          .from(deviceHealth)
          .where(inArray(deviceHealth.device, devices))
          .all()
          .map((r) => [r.device, r]),
      );
      for (const slot of candidates) {
        const state = states.get(slot.name);
        // Recovering with no episode of ours running (its last write failed): the slot is freed, not kept out.
        if (state?.usage === 'recovering') {
          endRecovery(db, slot.name);
          continue;
        }
        const afterMarkBroken = state?.hold?.recoverFirst === true;
        if (state?.usage !== 'idle' || (state.hold !== null && !afterMarkBroken)) continue;
        // Unhealthy and failing still: a device that passed its last check (after a person's release and
        // fix) is on its way back, not a case for a power cycle.
        let failing = slot.devices.filter(
          (d) => health.get(d)?.state === 'unhealthy' && health.get(d)?.lastOk !== true,
        );
        // A job said the slot is broken though its checks may pass: every device with steps gets them.
        if (afterMarkBroken && failing.length === 0)
          failing = slot.devices.filter((d) => recoveryPlan(lab, slot, [d]).length > 0);
        if (failing.length === 0 || recoveryPlan(lab, slot, failing).length === 0) continue;
        const since = afterMarkBroken
          ? (state.hold?.at ?? Date.now())
          : Math.min(...failing.map((d) => health.get(d)?.since ?? Date.now()));
        this.begin(slot, failing, since, afterMarkBroken);
      }
    } catch (error) {
      this.deps.log.error({ err: coerceError(error) }, 'recovery sweep failed');
    }
  }

  private begin(slot: SlotModel, failing: string[], unhealthySince: number, afterMarkBroken: boolean): void {
    if (!beginRecovery(this.deps.db, slot, failing)) return;
    const run = this.episode(slot, failing, unhealthySince, afterMarkBroken)
      .catch((error: unknown) => this.deps.log.error({ err: coerceError(error), slot: slot.name }, 'recovery failed'))
      .finally(() => {
        this.running.delete(slot.name);
        this.deps.poke();
      });
    this.running.set(slot.name, run);
  }

  private async episode(
    slot: SlotModel,
    devices: string[],
    unhealthySince: number,
    afterMarkBroken: boolean,
  ): Promise<void> {
    const { lab, db, log } = this.deps;
    const settings = lab.config.recovery;
    const signal = this.controller.signal;
    const story: string[] = [];
    let failing = devices;
    // Objects and functions, not locals: the awaits between sets and reads are invisible to the type checker.
    const done = { ended: false };
    const aborted = (): boolean => signal.aborted;
    const end = (event: Parameters<typeof endRecovery>[2]): void => {
      // Marked first: a move that throws is not tried again by the finally below (it would throw the same).
      done.ended = true;
      endRecovery(db, slot.name, event);
    };
    log.warn({ slot: slot.name, devices }, 'recovering a slot');
    try {
      // Rounds before an operator's last release are forgiven: the person has looked at the slot.
      const since = Math.max(Date.now() - settings.window, lastReleaseAt(db, slot.name) + 1);
      const budget = settings.max_attempts - roundsSince(db, slot.name, since);
      for (let round = 1; round <= budget && !aborted(); round += 1) {
        recordEvent(db, {
          type: 'recovery.round',
          slot: slot.name,
          message: `${slot.name}: recovery round ${round} of ${budget} for ${failing.join(', ')}`,
          data: { round, devices: failing, target: slot.target },
        });
        for (const planned of recoveryPlan(lab, slot, failing)) {
          if (aborted()) break;
          const heldNow = heldByOthers(db, slot.name, afterMarkBroken);
          if (heldNow !== undefined) {
            log.warn({ slot: slot.name, hold: heldNow }, 'slot held during recovery; recovery stops');
            end({
              type: 'recovery.stopped',
              slot: slot.name,
              message: `${slot.name}: recovery stopped, the slot was held meanwhile (${heldNow})`,
              data: { devices, story, target: slot.target },
            });
            return;
          }
          const result = await runStep(planned, { lab, db, log, slot, signal, usb: this.deps.usb });
          const still = await this.recheck(failing);
          const recovered = still.length === 0;
          recordEvent(db, {
            type: 'recovery.step',
            slot: slot.name,
            message: `${slot.name}: ${planned.step} ${result.ok ? 'done' : 'failed'} (${result.detail}); ${recovered ? 'recovered' : `still failing: ${still.map((s) => s.device).join(', ')}`}`,
            data: {
              step: planned.step,
              devices: planned.devices,
              ok: result.ok,
              detail: result.detail,
              recovered,
              round,
              target: slot.target,
            },
          });
          story.push(
            `round ${round}: ${planned.step} ${result.ok ? 'done' : `failed (${result.detail})`}, then ${recovered ? 'healthy' : still.map((s) => `${s.device}: ${s.reason}`).join('; ')}`,
          );
          if (recovered) {
            const ms = Date.now() - unhealthySince;
            log.info({ slot: slot.name, step: planned.step, ms }, 'slot recovered');
            end({
              type: 'recovery.succeeded',
              slot: slot.name,
              message: `${slot.name} recovered by ${planned.step} after ${Math.round(ms / 1000)} s; back in rotation`,
              data: { step: planned.step, devices, duration_ms: ms, rounds: round, target: slot.target },
            });
            // The job's hold asked for this chance: the slot is back, so the hold has done its work.
            if (afterMarkBroken)
              releaseRecoverFirstHold(db, slot.name, `recovered by ${planned.step} after the job marked it broken`);
            return;
          }
          failing = still.map((s) => s.device);
        }
      }
      if (aborted()) return;
      const why =
        budget <= 0
          ? `recovery of ${devices.join(', ')} not tried: ${settings.max_attempts} rounds already in the last ${Math.round(settings.window / 60_000)} min`
          : `recovery of ${devices.join(', ')} failed after ${budget} ${budget === 1 ? 'round' : 'rounds'}: ${story.join('; ')}`;
      log.error({ slot: slot.name, why }, 'recovery exhausted; slot held');
      end({
        type: 'recovery.exhausted',
        slot: slot.name,
        message: `${slot.name}: ${why}`,
        data: { devices, story, target: slot.target },
      });
      if (afterMarkBroken) keepHoldAfterRecovery(db, slot.name, cut(story.join('; ') || why));
      else holdSlot(db, slot.name, { reason: cut(why), source: 'system', by: 'labslot recovery' });
    } finally {
      if (!done.ended) endRecovery(db, slot.name);
    }
  }

  /**
   * Checks the failing devices again (actively: the slot is recovering, no job
   * has it) until each is healthy or fails: a device becomes healthy only after
   * [health] success_threshold passing checks in a row, as anywhere else.
   */
  private async recheck(devices: readonly string[]): Promise<{ device: string; reason: string }[]> {
    const still: { device: string; reason: string }[] = [];
    const needed = this.deps.lab.config.health.success_threshold;
    for (const device of devices) {
      let reason = 'not checked';
      for (let i = 0; i < needed; i += 1) {
        const result = (await this.deps.monitor.checkNow([device], 'recovery', { mode: 'active' })).get(device);
        reason = result?.reason ?? 'not checked (agent stopping)';
        if (result?.ok !== true) break;
      }
      const state = this.deps.db
        .select({ state: deviceHealth.state })
        .from(deviceHealth)
        .where(inArray(deviceHealth.device, [device]))
        .get()?.state;
      if (state !== 'healthy') still.push({ device, reason });
    }
    return still;
  }

  /**
   * Too many health changes of one device within [recovery] flap_window (since
   * the slot's last release, so a released slot starts afresh): every slot
   * using it is held, with its recent story, for a person to look at.
   */
  private judgeFlapping(transition: Transition): void {
    const { lab, db, log } = this.deps;
    const { flap_threshold: threshold, flap_window: window } = lab.config.recovery;
    for (const slot of lab.devices.get(transition.device)?.usedBy ?? []) {
      if (readSlotStates(db, [slot]).get(slot)?.hold !== null) continue;
      const since = Math.max(Date.now() - window, lastReleaseAt(db, slot) + 1);
      const changes = healthChangesSince(db, transition.device, since);
      if (changes <= threshold) continue;
      const why = `${transition.device} is flapping: ${changes} health changes in ${Math.round(window / 60_000)} min (last: ${transition.from} -> ${transition.to}: ${transition.result.reason})`;
      log.error({ slot, device: transition.device, changes }, 'device flapping; slot held');
      holdSlot(db, slot, { reason: cut(why), source: 'system', by: 'labslot flapping' });
      recordEvent(db, {
        type: 'recovery.flapping',
        slot,
        device: transition.device,
        message: `${slot} held: ${why}`,
        data: { device: transition.device, changes, window_ms: window, target: lab.slots.get(slot)?.target },
      });
    }
  }
}

/** A hold placed while recovery ran (an operator's, or a job's that replaced the mark-broken one): who and why. */
function heldByOthers(db: Db, slot: string, ownHoldIsRecoverFirst: boolean): string | undefined {
  const hold = readSlotStates(db, [slot]).get(slot)?.hold ?? null;
  if (hold === null || (ownHoldIsRecoverFirst && hold.recoverFirst)) return undefined;
  return `${hold.source}${hold.by === null ? '' : ` ${hold.by}`}: ${hold.reason}`;
}

function cut(text: string): string {
  return text.length <= MAX_REASON ? text : `${text.slice(0, MAX_REASON - 1)}…`;
}
