// What helpers need from a TestContext: somewhere to register cleanup. Benchmarks
// pass their own, so the same real-lab helpers serve both.
export interface Cleanup {
  after: (fn: () => unknown) => void;
}

/** A Cleanup for scripts: run `runAll()` in a finally block. */
export function scriptCleanup(): Cleanup & { runAll: () => Promise<void> } {
  const steps: (() => unknown)[] = [];
  return {
    after: (fn) => steps.push(fn),
    runAll: async () => {
      for (const step of steps.reverse()) {
        try {
          await step();
        } catch (error) {
          console.error('cleanup step failed:', error);
        }
      }
    },
  };
}

const stacks = new WeakMap<Cleanup, (() => unknown)[]>();

/**
 * Cleanup newest first, as resources nest. node:test runs `t.after` hooks in the
 * order they were registered, so a temporary directory (made first) would be
 * removed while the agent whose state is in it still runs, and the agent's own
 * cleanup (worker users, cgroups, grants) would then fail halfway. Helpers
 * register through this instead; one hook runs them all, in reverse, and
 * reports every failure after trying every step.
 */
export function lifo(t: Cleanup): Cleanup {
  return {
    after: (fn) => {
      let stack = stacks.get(t);
      if (stack === undefined) {
        const steps: (() => unknown)[] = [];
        stacks.set(t, steps);
        t.after(async () => {
          const failures: unknown[] = [];
          for (let step = steps.pop(); step !== undefined; step = steps.pop()) {
            try {
              await step();
            } catch (error) {
              failures.push(error);
            }
          }
          // The messages in the summary too: a test report may show only it (a leak check names what leaked).
          const messages = failures.map((f) => (f instanceof Error ? f.message : String(f)));
          if (failures.length > 0)
            throw new AggregateError(failures, `${failures.length} cleanup steps failed: ${messages.join(' | ')}`);
        });
        stack = steps;
      }
      stack.push(fn);
    },
  };
}
