// Where one lease's time goes (issue 17): the wall milliseconds of each step,
// carried by the lease's last log line, so an operator (and bench/lease.ts)
// can see which step a slow lease spent its time in. Steps that run side by
// side each get their own duration; the total is the lease's own.

export class LeaseClock {
  private readonly started = performance.now();
  private readonly steps: Record<string, number> = {};

  /** Runs `work` as step `name`; a step timed twice (a retried cleanup) adds up. */
  async time<T>(name: string, work: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await work();
    } finally {
      this.add(name, performance.now() - start);
    }
  }

  /** The same, for a step that does not wait (a database write). */
  timeSync<T>(name: string, work: () => T): T {
    const start = performance.now();
    try {
      return work();
    } finally {
      this.add(name, performance.now() - start);
    }
  }

  add(name: string, ms: number): void {
    this.steps[name] = (this.steps[name] ?? 0) + ms;
  }

  /** Every step so far in milliseconds (0.1 ms resolution), and the total since the lease began. */
  summary(): Record<string, number> {
    const round = (ms: number): number => Math.round(ms * 10) / 10;
    const out: Record<string, number> = {};
    for (const [name, ms] of Object.entries(this.steps)) out[name] = round(ms);
    out['total'] = round(performance.now() - this.started);
    return out;
  }
}

/** For code that runs with or without a lease (cleanup at start, the reconciler): no clock, no cost. */
export const NO_CLOCK = {
  time: <T>(_name: string, work: () => Promise<T>): Promise<T> => work(),
  timeSync: <T>(_name: string, work: () => T): T => work(),
};
export type StepTimer = Pick<LeaseClock, 'time' | 'timeSync'>;
