// `labslot job run` says once, on stderr, which slot and worker its job got,
// and always before the job's first output byte. The queue watch polls once a
// second, so a job that ends within that second was over before the watch
// saw it leave the queue: the output stream asks for the job's view (which
// keeps its slot and worker once finished) before it writes the first byte,
// and the end of the run says it for a job that printed nothing.
import type { AgentClient } from './agent-client.js';
import { jobPath, type JobJson } from './job-json.js';

const STATUS_TIMEOUT_MS = 10_000;

export class SlotAnnouncement {
  private said = false;

  constructor(private readonly say: (line: string) => void) {}

  /**
   * Says it from this view of the job if the view names the lease: the worker is set up (the slot is
   * sure then; a failed pre-lease check sends a leased job back to the queue), or the job is past that.
   * Returns whether it has been said.
   */
  tell(job: JobJson): boolean {
    if (this.said) return true;
    const settled = job.worker_id !== null || (job.state !== 'queued' && job.state !== 'leased');
    if (job.slot === null || !settled) return false;
    this.said = true;
    this.say(`job ${job.id} got slot ${job.slot}${job.worker_id === null ? '' : `, worker ${job.worker_id}`}`);
    return true;
  }

  /** A writer that says it (asking the agent first, if need be) before the first chunk. */
  gate(
    client: AgentClient,
    id: string,
    signal: AbortSignal,
    write: (chunk: Uint8Array) => Promise<void>,
  ): (chunk: Uint8Array) => Promise<void> {
    return async (chunk) => {
      if (!this.said) {
        try {
          this.tell(await client.request<JobJson>('GET', jobPath(id), undefined, STATUS_TIMEOUT_MS, signal));
        } catch {
          // The agent did not answer: the job's bytes matter more than this line; the run's end says it.
        }
      }
      await write(chunk);
    };
  }
}
