// While `labslot job run` waits in the queue, the output stream is silent, so
// this polls the job and tells the user why it waits ("gimlet: 1 held, 1
// unhealthy, 0 free") each time the reason changes, then which slot and
// worker it got (slot-announcement.ts: said once, whoever sees it first).
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentClient } from './agent-client.js';
import { jobPath, type JobJson } from './job-json.js';
import type { SlotAnnouncement } from './slot-announcement.js';

const POLL_INTERVAL_MS = 1_000;
const POLL_TIMEOUT_MS = 10_000;

/** Resolves once the slot is announced, the job is done, or `signal` aborts; never rejects (the output stream reports lost contact). */
export async function reportWhileQueued(
  client: AgentClient,
  first: JobJson,
  signal: AbortSignal,
  say: (line: string) => void,
  announcement: SlotAnnouncement,
  intervalMs = POLL_INTERVAL_MS,
): Promise<void> {
  let job = first;
  let lastWaiting: string | null = null;
  try {
    for (;;) {
      if (announcement.tell(job) || job.done) return;
      if (job.state === 'queued' && job.waiting !== null && job.waiting !== lastWaiting)
        say(`job ${job.id} waiting: ${job.waiting}`);
      lastWaiting = job.waiting ?? lastWaiting;
      await sleep(intervalMs, undefined, { signal });
      try {
        job = await client.request<JobJson>('GET', jobPath(job.id), undefined, POLL_TIMEOUT_MS, signal);
      } catch {
        // A poll that fails is only a missed update: keep the last answer and ask again (or stop, when aborted).
        if (signal.aborted) return;
      }
    }
  } catch {
    // Only the sleep throws, and only when aborted: the run is over.
  }
}
