// Teardown steps, registered as each resource is acquired and run newest
// first, so a demo that fails halfway through its start undoes exactly what it
// made, and a finished one stops the agent before the lab under it.
import { coerceError } from '../errors.js';

export interface TeardownStep {
  /** What the step removes, for progress and error messages ("network namespace labslot-demo-1a2b3c"). */
  what: string;
  run: () => Promise<void> | void;
  /** What a second Ctrl-C does instead: synchronous, immediate, best effort (a no-op for what dies with this process). */
  force?: () => void;
}

export class ResourceStack {
  private readonly steps: TeardownStep[] = [];
  private disposing: Promise<void> | undefined;

  defer(step: TeardownStep): void {
    if (this.disposing) throw new Error(`cannot register "${step.what}": the stack is being disposed`);
    this.steps.push(step);
  }

  /**
   * Runs every step, newest first; a failed step does not stop the ones after it, and all failures
   * come back together in an AggregateError. Memoized: every caller awaits the same teardown.
   */
  dispose(onStep?: (what: string) => void): Promise<void> {
    this.disposing ??= (async () => {
      const failures: Error[] = [];
      for (let step = this.steps.at(-1); step !== undefined; step = this.steps.at(-1)) {
        onStep?.(step.what);
        try {
          await step.run();
        } catch (error) {
          failures.push(new Error(`${step.what}: ${coerceError(error).message}`, { cause: error }));
        }
        // Popped only once done, so a forced stop meanwhile still kills what this step was removing.
        this.steps.pop();
      }
      if (failures.length > 0)
        throw new AggregateError(
          failures,
          `${failures.length} teardown ${failures.length === 1 ? 'step' : 'steps'} failed`,
        );
    })();
    return this.disposing;
  }

  /**
   * The force of every step not finished yet, newest first. Returns what may be left behind: steps
   * without a force, and the message of each force that threw.
   */
  forceSync(): string[] {
    const left: string[] = [];
    for (const step of [...this.steps].reverse()) {
      if (!step.force) {
        left.push(step.what);
        continue;
      }
      try {
        step.force();
      } catch (error) {
        left.push(`${step.what}: ${coerceError(error).message}`);
      }
    }
    return left;
  }
}
