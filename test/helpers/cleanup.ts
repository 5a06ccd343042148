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
