// The contract every device kind keeps (src/devices/kinds/), as one suite that
// each kind's real lab parts run through, the way hono runs one router suite
// against every router. device-kinds.test.ts runs it for every kind.
import assert from 'node:assert/strict';
import { describe, it, after, type TestContext } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceSpec } from '../src/config/schema.js';
import { FAILURE_CLASSES, type CheckMode, type FailureClass, type Verdict } from '../src/devices/check-result.js';
import type { KindCheckContext, KindRecoveryStep } from '../src/devices/kinds/device-kind.js';
import { checksIn, kindOf, type KindName } from '../src/devices/kinds/registry.js';
import type { Cleanup } from './helpers/cleanup.js';
import { requires, type Prerequisite } from './helpers/prerequisites.js';
import { eventually } from './helpers/eventually.js';

export interface KindCase<S extends DeviceSpec> {
  /** A device that works. */
  working: S;
  /** The same kind of device, missing or broken. */
  broken: S;
  /** A device whose far end never answers. */
  hung: S;
  /** Texts of which every failure reason about `spec` must contain one: how an operator recognises the device. */
  names: (spec: S) => string[];
  /** What reached the working device so far: opens, bytes, lines, program runs, outlet switches. */
  contacts: () => number;
  /** Makes exactly one contact with the working device from the test: a barrier that orders earlier contacts before it. */
  touch: () => Promise<void>;
  /** Whether an active check reaches the device (a probe exchange, a program run), so the counter must see one. */
  activeTouches: boolean;
  /** Context a check of `spec` gets besides mode, signal and timeout (a USB enumeration). */
  context?: (spec: S) => Partial<KindCheckContext>;
  /**
   * For a kind that can be USB hardware named by identity (a probe, a console by its adapter): such a
   * device that is not on the bus, which its USB reset and rebind must fail naming. Undefined: the
   * kind is never USB hardware by identity, and answers no USB recovery step.
   */
  offBus?: S;
}

export type KindSetup<K extends KindName> = (
  t: Cleanup,
  dir: string,
) => Promise<KindCase<Extract<DeviceSpec, { kind: K }>>>;

const TIMEOUT_CLASSES: readonly FailureClass[] = ['timeout', 'no-answer'];

/** Runs the contract for one kind; `setup` builds its real parts once for the suite. */
export function deviceKindContract<K extends KindName>(
  kind: K,
  needs: readonly Prerequisite[],
  setup: KindSetup<K>,
): void {
  describe(`device kind "${kind}" keeps the contract`, () => {
    // One lab per suite: its parts stop, newest first, after the suite's last test (a hook registered
    // inside a test would run after that test instead).
    const steps: (() => unknown)[] = [];
    const suite: Cleanup = { after: (fn) => steps.push(fn) };
    after(async () => {
      const failures: unknown[] = [];
      for (let step = steps.pop(); step !== undefined; step = steps.pop())
        await Promise.resolve(step()).catch((error: unknown) => failures.push(error));
      if (failures.length > 0)
        throw new AggregateError(failures, `${failures.length} steps of the ${kind} lab's cleanup failed`);
    });
    let made: Promise<KindCase<Extract<DeviceSpec, { kind: K }>>> | undefined;
    const lab = (t: TestContext): Promise<KindCase<Extract<DeviceSpec, { kind: K }>>> | null => {
      if (!requires(t, ...needs)) return null;
      if (made === undefined) {
        const dir = mkdtempSync(join(tmpdir(), `labslot-kind-${kind}-`));
        suite.after(() => rmSync(dir, { recursive: true, force: true }));
        made = setup(suite, dir);
      }
      return made;
    };

    it('names its network endpoints as a host and an optional port a packet filter can hold', async (t) => {
      const c = await lab(t);
      if (c === null) return;
      for (const endpoint of kindOf(c.working).endpoints(c.working)) {
        assert.ok(['slot', 'none'].includes(endpoint.reach), JSON.stringify(endpoint));
        assert.match(endpoint.host, /^[^\s[\]/]+$/, 'a bare address or name, no brackets, port or prefix');
        if (endpoint.port !== undefined)
          assert.ok(Number.isInteger(endpoint.port) && endpoint.port >= 1 && endpoint.port <= 65_535);
      }
    });

    it('passes a working device, in every mode the kind checks in', async (t) => {
      const c = await lab(t);
      if (c === null) return;
      for (const mode of modesOf(c.working)) {
        const verdict: Verdict = await check(c, c.working, mode, 10_000);
        assert.equal(verdict.ok, true, `${mode}: ${verdict.reason} ${verdict.detail ?? ''}`);
      }
    });

    it('fails a broken device with a result naming it, never by throwing', async (t) => {
      const c = await lab(t);
      if (c === null) return;
      for (const mode of modesOf(c.broken)) {
        const verdict: Verdict = await check(c, c.broken, mode, 5_000);
        assertFailure(c, c.broken, verdict);
        assert.ok(
          verdict.failure !== undefined && FAILURE_CLASSES.includes(verdict.failure),
          `${mode}: a failure class, got ${String(verdict.failure)}`,
        );
      }
    });

    it('ends with a failure naming the device when its signal is aborted, before or during the check', async (t) => {
      const c = await lab(t);
      if (c === null) return;
      const before = new AbortController();
      before.abort(new Error('agent stopping'));
      assertFailure(c, c.working, await check(c, c.working, 'active', 10_000, before.signal));
      // A hung device with a long timeout: only the abort can end this check before the test's own timeout.
      const during = new AbortController();
      const pending = check(c, c.hung, 'active', 60_000, during.signal);
      setTimeout(() => during.abort(new Error('agent stopping')), 200);
      assertFailure(c, c.hung, await pending);
    });

    it('resolves as a timeout when the device hangs, given a short timeout', async (t) => {
      const c = await lab(t);
      if (c === null) return;
      const verdict: Verdict = await check(c, c.hung, 'active', 1_500);
      assertFailure(c, c.hung, verdict);
      assert.ok(
        verdict.failure !== undefined && TIMEOUT_CLASSES.includes(verdict.failure),
        `a timeout class, got ${String(verdict.failure)}: ${verdict.reason}`,
      );
    });

    it('answers a USB reset or rebind only as USB hardware by identity: a failure naming a device off the bus, never a throw', async (t) => {
      const c = await lab(t);
      if (c === null) return;
      const kind = kindOf(c.working);
      const steps: KindRecoveryStep[] = ['usb-reset', 'usb-rebind'];
      const usbById = (spec: typeof c.working): boolean => {
        const presence = kind.usb(spec);
        return presence !== undefined && 'identity' in presence;
      };
      for (const spec of [c.working, c.broken, c.hung].filter((s) => !usbById(s)))
        for (const step of steps) {
          const attempt = await kind.recover(spec, step, {
            signal: AbortSignal.timeout(10_000),
            usb: () => Promise.resolve([]),
          });
          assert.equal(attempt, undefined, `${step} of ${kind.describe(spec)}: not USB hardware by identity`);
        }
      if ([c.working, c.broken, c.hung].some(usbById))
        assert.ok(
          c.offBus !== undefined,
          'a kind that is USB hardware by identity names a device off the bus for this test',
        );
      if (c.offBus === undefined) return;
      assert.ok(usbById(c.offBus), 'the device off the bus is named by its USB identity');
      const offBus = c.offBus;
      const stopping = new AbortController();
      stopping.abort(new Error('the agent is stopping'));
      for (const step of steps) {
        const usb = c.context?.(offBus).usb ?? (() => Promise.resolve([]));
        const attempt = await kind.recover(offBus, step, { signal: AbortSignal.timeout(10_000), usb });
        assert.equal(attempt?.ok, false, `${step}: ${attempt?.detail ?? 'no answer'}`);
        assert.match(attempt.detail, / is not on the bus/);
        // The agent stopping: the step ends at once, as a failure.
        const cut = await kind.recover(offBus, step, {
          signal: stopping.signal,
          usb: () => new Promise(() => undefined),
        });
        assert.deepEqual(
          [cut?.ok, cut?.detail.endsWith('was cut short')],
          [false, true],
          `${step}: ${cut?.detail ?? ''}`,
        );
      }
    });

    it('touches nothing in passive mode (no open, no byte, no run), where an active check does', async (t) => {
      const c = await lab(t);
      if (c === null) return;
      const start = c.contacts();
      if (checksIn(c.working, 'passive')) assert.equal((await check(c, c.working, 'passive', 10_000)).ok, true);
      // Our own contact comes after the passive check's would have: once it is seen, anything earlier was too.
      await c.touch();
      await eventually(() => c.contacts() > start, {
        timeoutMs: 10_000,
        message: "the test's own contact with the device",
      });
      assert.equal(c.contacts(), start + 1, 'the passive check reached the device');
      if (c.activeTouches) {
        assert.equal((await check(c, c.working, 'active', 10_000)).ok, true);
        await eventually(() => c.contacts() > start + 1, {
          timeoutMs: 10_000,
          message: "the active check's contact with the device",
        });
      }
    });
  });
}

function modesOf(spec: DeviceSpec): CheckMode[] {
  return (['passive', 'active'] as const).filter((mode) => checksIn(spec, mode));
}

/** The kind's own check, without the runner's deadline: what it does on its own is under test. */
function check<S extends DeviceSpec>(
  c: KindCase<S>,
  spec: S,
  mode: CheckMode,
  timeoutMs: number,
  signal = new AbortController().signal,
): Promise<Verdict> {
  const ctx: KindCheckContext = {
    mode,
    timeoutMs,
    // As the runner gives it: the caller's signal, and the check's own deadline.
    signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
    usb: () => Promise.resolve([]),
    placeholders: () => Promise.resolve({ missing: 'the contract suite has no slot' }),
    ...c.context?.(spec),
  };
  // AbortSignal.timeout() does not keep the process alive; in the agent the runner's own deadline timer does.
  const alive = setInterval(() => undefined, 1_000);
  return kindOf(spec)
    .check(spec, ctx)
    .finally(() => clearInterval(alive));
}

function assertFailure<S extends DeviceSpec>(c: KindCase<S>, spec: S, verdict: Verdict): void {
  assert.equal(verdict.ok, false, `expected a failure, got: ${verdict.reason}`);
  const names = c.names(spec);
  assert.ok(
    names.some((name) => verdict.reason.includes(name)),
    `the reason names the device (${names.map((n) => JSON.stringify(n)).join(' or ')}): ${verdict.reason}`,
  );
}
