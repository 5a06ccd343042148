// `labslot worker mark-broken -m MESSAGE`: run by a job that found its testbed
// broken (a probe that will not attach, a board that will not boot). The agent
// holds the job's slot until a person releases it, and the job counts as an
// infrastructure failure rather than a failed test. Inside a job the agent sets
// LABSLOT_URL, LABSLOT_TOKEN (a worker token, good for this one slot only),
// LABSLOT_WORKER and LABSLOT_SLOT; without them there is nothing to mark.
import type { Command } from 'commander';
import { holdSummary } from '../slots/hold-message.js';
import type { HoldView } from '../api/slot.js';
import type { CommandResult } from './command-result.js';
import { CliError, EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import { registerWorkerPower } from './power-commands.js';
import { workerClient } from './worker-client.js';

const MAX_MESSAGE = 1000;

interface MarkBrokenAnswer {
  slot: string;
  job_id: string;
  worker_id: string;
  hold: HoldView;
  /** The slot was held before (by an operator, say): that hold stays, and this job's message is in the slot's events. */
  already_held: boolean;
}

export function registerWorkerCommands(program: Command, done: CommandResult): void {
  const worker = program.command('worker').description('commands for a job to talk to its own agent');
  worker
    .command('mark-broken')
    .description("inside a job: hold this job's slot as broken until an operator releases it")
    .requiredOption('-m, --message <message>', 'what is wrong with the testbed')
    .option('--json', "print the agent's answer (slot, job, worker and the hold) on stdout")
    .action(async (options: { message: string; json?: boolean }) => {
      done.code = await markBroken(options.message, options.json === true, process.env);
    });
  registerWorkerPower(worker, done);
}

async function markBroken(message: string, json: boolean, env: NodeJS.ProcessEnv): Promise<number> {
  const client = await workerClient('mark-broken', env);
  if (message.trim() === '') throw new CliError('-m: say what is wrong with the testbed', EXIT_USAGE);
  if (message.length > MAX_MESSAGE)
    throw new CliError(`-m: the message is ${message.length} characters; at most ${MAX_MESSAGE} fit`, EXIT_USAGE);
  // The agent checks slot and worker against the token, so a job cannot hold somebody else's slot.
  const body = { message, slot: env['LABSLOT_SLOT'] || undefined, worker: env['LABSLOT_WORKER'] };
  const answer = await client.request<MarkBrokenAnswer>('POST', '/v1/worker/mark-broken', body);
  if (json) process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
  else if (answer.already_held) {
    process.stderr.write(
      `labslot: slot ${answer.slot} stays held by ${holdSummary(answer.hold)} (your message is in its events); this job ends as an infrastructure failure\n`,
    );
  } else
    process.stderr.write(
      `labslot: slot ${answer.slot} is held: ${answer.hold.reason}; this job ends as an infrastructure failure\n`,
    );
  return EXIT_OK;
}
