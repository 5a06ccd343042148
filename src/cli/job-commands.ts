// `labslot job submit|status|logs|cancel|list`: thin clients of the job API
// for working with jobs without waiting on them (`job run` waits; it has its
// own file). They exit 0 whenever the question was answered, also when the
// answer is "that job failed".
import type { Command } from 'commander';
import { addClientOptions, AgentClient, type ClientOptions } from './agent-client.js';
import type { CommandResult } from './command-result.js';
import { CliError, EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import { formatJobSummary, formatJobTable } from './job-format.js';
import { isFinal, JOB_STATES, jobPath, type JobJson, type JobState } from './job-json.js';
import { copyOutput, followOutput, reportRetryOnStderr, streamWriter } from './job-output.js';
import { registerJobRun } from './job-run.js';
import { addSubmissionOptions, compileSubmission, type RawSubmissionOptions } from './job-submission.js';
import { downloadOutputs, sendInput } from './job-archive-transfer.js';

export function registerJobCommands(program: Command, done: CommandResult): void {
  const job = program.command('job').description('submit, follow and manage jobs');
  registerJobRun(job, done);

  const submit = job
    .command('submit')
    .description('queue a job and print its id (stdout carries only the id)')
    .argument('[command...]', 'the program and its arguments (put them after --)')
    .option('--script <file>', 'run this script instead of a command');
  addClientOptions(addSubmissionOptions(submit)).action(async (command: string[], options: RawSubmissionOptions & ClientOptions) => {
    const submission = compileSubmission(options, command);
    const client = AgentClient.from(options);
    const created = await client.request<{ id: string }>('POST', '/v1/jobs', submission);
    if (options.input !== undefined) await sendInput(client, created.id, options.input);
    process.stdout.write(`${created.id}\n`);
    done.code = EXIT_OK;
  });

  addClientOptions(job.command('status').description('show one job: state, slot, exit code, why it ended or why it waits').argument('<id>'))
    .option('--json', 'print the API\'s JSON')
    .action(async (id: string, options: ClientOptions & { json?: boolean }) => {
      const view = await AgentClient.from(options).request<JobJson>('GET', jobPath(id));
      process.stdout.write(options.json === true ? `${JSON.stringify(view, null, 2)}\n` : formatJobSummary(view));
      done.code = EXIT_OK;
    });

  addClientOptions(job.command('logs').description('print a job\'s output (stdout and stderr, as it was written)').argument('<id>'))
    .option('-f, --follow', 'keep printing until the job is done')
    .action(async (id: string, options: ClientOptions & { follow?: boolean }) => {
      const client = AgentClient.from(options);
      // Ctrl-C keeps its default meaning here: stop reading (the job goes on).
      const output = { write: streamWriter(process.stdout), signal: new AbortController().signal, onRetry: reportRetryOnStderr(id) };
      if (options.follow === true) await followOutput(client, id, output);
      else await copyOutput(client, id, output);
      done.code = EXIT_OK;
    });

  addClientOptions(job.command('outputs').description('download the files a job kept under $LABSLOT_OUTPUT').argument('<id>'))
    .requiredOption('-o, --output <dir>', 'unpack them here (made if missing)')
    .action(async (id: string, options: ClientOptions & { output: string }) => {
      const files = await downloadOutputs(AgentClient.from(options), id, options.output);
      process.stderr.write(`labslot: ${files} files of job ${id} in ${options.output}\n`);
      done.code = EXIT_OK;
    });

  addClientOptions(job.command('cancel').description('cancel a queued or running job').argument('<id>')).action(async (id: string, options: ClientOptions) => {
    const { state } = await AgentClient.from(options).request<{ id: string; state: JobState }>('POST', jobPath(id, '/cancel'), {});
    const ended = isFinal(state);
    process.stdout.write(ended ? `job ${id} ${state}\n` : `job ${id} ${state}: cancel requested; it is stopped, cleaned up, and then ends as cancelled\n`);
    done.code = EXIT_OK;
  });

  addClientOptions(job.command('list').description('list jobs, newest first'))
    .option('--state <state>', `only jobs in this state (${JOB_STATES.join(', ')})`)
    .option('--target <target>', 'only jobs for this target')
    .option('--limit <n>', 'at most this many jobs')
    .option('--json', 'print the API\'s JSON')
    .action(async (options: ClientOptions & { state?: string; target?: string; limit?: string; json?: boolean }) => {
      const query = new URLSearchParams();
      if (options.state !== undefined) {
        if (!(JOB_STATES as readonly string[]).includes(options.state)) throw new CliError(`--state "${options.state}": expected one of ${JOB_STATES.join(', ')}`, EXIT_USAGE);
        query.set('state', options.state);
      }
      if (options.target !== undefined) query.set('target', options.target);
      if (options.limit !== undefined) {
        if (!/^\d+$/.test(options.limit) || Number(options.limit) < 1) throw new CliError(`--limit "${options.limit}": expected a whole number above 0`, EXIT_USAGE);
        query.set('limit', options.limit);
      }
      const search = query.size > 0 ? `?${query.toString()}` : '';
      const { jobs } = await AgentClient.from(options).request<{ jobs: JobJson[] }>('GET', `/v1/jobs${search}`);
      process.stdout.write(options.json === true ? `${JSON.stringify(jobs, null, 2)}\n` : formatJobTable(jobs));
      done.code = EXIT_OK;
    });
}
