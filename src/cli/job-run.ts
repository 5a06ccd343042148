// `labslot job run --target T | --slot NAME ... -- CMD [ARG]...`: submit, say
// which slot and worker it got, stream the job's output to stdout as it
// happens, and exit with the job's exit code. Only the
// job's bytes go to stdout; everything labslot has to say goes to stderr, so
// `labslot job run ... > log` captures exactly what the job printed.
//
// Ctrl-C (or SIGTERM, which is how CI runners cancel a step) cancels the job
// and keeps streaming until the agent has stopped and cleaned it up, so the
// slot is known to be free again; a second one stops waiting at once.
import type { Command } from 'commander';
import { plural } from '../words.js';
import { addClientOptions, AgentClient, type ClientOptions } from './agent-client.js';
import type { CommandResult } from './command-result.js';
import { EXIT_FAILURE } from './exit-codes.js';
import { jobPath, type JobJson } from './job-json.js';
import { jobOutcome } from './job-outcome.js';
import { followOutput, reportRetryOnStderr, streamWriter } from './job-output.js';
import { reportWhileQueued } from './job-queue-watch.js';
import { SlotAnnouncement } from './slot-announcement.js';
import {
  addSubmissionOptions,
  compileSubmission,
  type JobSubmission,
  type RawSubmissionOptions,
} from './job-submission.js';

const CANCEL_TIMEOUT_MS = 30_000;

export function registerJobRun(job: Command, done: CommandResult): void {
  const run = job
    .command('run')
    .description('submit a job, stream its output, and exit with its exit code')
    .argument('<command...>', 'the program and its arguments (put them after --)');
  addClientOptions(addSubmissionOptions(run)).action(
    async (command: string[], options: RawSubmissionOptions & ClientOptions) => {
      const submission = await compileSubmission(options, command);
      done.code = await runJob(await AgentClient.from(options), submission, options.input);
    },
  );
}

function say(line: string): void {
  process.stderr.write(`labslot: ${line}\n`);
}

async function runJob(client: AgentClient, submission: JobSubmission, inputDir: string | undefined): Promise<number> {
  let id: string | undefined;
  let interrupts = 0;
  const cancel = (jobId: string): void => {
    client.request<{ state: string }>('POST', jobPath(jobId, '/cancel'), {}, CANCEL_TIMEOUT_MS).then(
      () => undefined,
      // Already done (409) or refused: the stream still ends with the job, and says how it ended.
      (error: unknown) => say(`could not cancel job ${jobId}: ${(error as Error).message}`),
    );
  };
  const onSignal = (): void => {
    interrupts += 1;
    if (interrupts > 1) {
      say(
        id === undefined
          ? 'interrupted again; stopped before the job was submitted'
          : `interrupted again; not waiting for job ${id}`,
      );
      process.exit(EXIT_FAILURE);
    }
    if (id === undefined) {
      say('interrupted; the job will be cancelled as soon as it is submitted (Ctrl-C again to stop waiting)');
      return;
    }
    say(`interrupted; cancelling job ${id} and waiting for it to stop (Ctrl-C again to stop waiting)`);
    cancel(id);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Ends the queue watch when the job is over; nothing else outlives this function.
  const running = new AbortController();
  try {
    const created = await client.request<{ id: string; job: JobJson }>('POST', '/v1/jobs', submission);
    id = created.id;
    const { requested_slot: slot, target } = created.job;
    say(`job ${id} queued for ${slot === null ? target : `slot ${slot}`}`);
    if (inputDir !== undefined) {
      // tar is loaded only for a job that sends a directory.
      const { sendInput } = await import('./job-archive-transfer.js');
      const sent = await sendInput(client, id, inputDir);
      say(`job ${id} got its input: ${plural(sent.files, 'file')}, ${plural(sent.bytes, 'byte')}`);
    }
    if (interrupts > 0) cancel(id);
    const announcement = new SlotAnnouncement(say);
    const watching = reportWhileQueued(client, created.job, running.signal, say, announcement);
    const job = await followOutput(client, id, {
      write: announcement.gate(client, id, running.signal, streamWriter(process.stdout)),
      signal: running.signal,
      retryFirstAttempt: true,
      onRetry: reportRetryOnStderr(id),
    });
    running.abort();
    await watching;
    // A job that printed nothing: the gate never ran.
    announcement.tell(job);
    const outcome = jobOutcome(job, interrupts > 0);
    if (outcome.message !== undefined) say(outcome.message);
    return outcome.code;
  } finally {
    running.abort();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
