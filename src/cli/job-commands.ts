// `labslot job submit|status|logs|cancel|list`: thin clients of the job API
// for working with jobs without waiting on them (`job run` waits; it has its
// own file). They exit 0 whenever the question was answered, also when the
// answer is "that job failed". With --json each prints the agent's answer.
import type { Command } from 'commander';
import { plural } from '../words.js';
import { addClientOptions, AgentClient, type ClientOptions } from './agent-client.js';
import type { CommandResult } from './command-result.js';
import { CliError, EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import { formatJobSummary, formatJobTable } from './job-format.js';
import { isFinal, JOB_STATES, jobPath, type JobJson, type JobState } from './job-json.js';
import { copyOutput, followOutput, reportRetryOnStderr, streamWriter } from './job-output.js';
import { registerJobRun } from './job-run.js';
import { addSubmissionOptions, compileSubmission, type RawSubmissionOptions } from './job-submission.js';

interface JsonOption {
  json?: boolean;
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function registerJobCommands(program: Command, done: CommandResult): void {
  const job = program.command('job').description('submit, follow and manage jobs');
  registerJobRun(job, done);

  const submit = job
    .command('submit')
    .description('queue a job and print its id (stdout carries only the id)')
    .argument('[command...]', 'the program and its arguments (put them after --)')
    .option('--script <file>', 'run this script instead of a command')
    .option('--json', "print the agent's answer (the id and the queued job) instead of the id");
  addClientOptions(addSubmissionOptions(submit)).action(
    async (command: string[], options: RawSubmissionOptions & ClientOptions & JsonOption) => {
      const submission = await compileSubmission(options, command);
      const client = await AgentClient.from(options);
      const created = await client.request<{ id: string; job: JobJson }>('POST', '/v1/jobs', submission);
      let input: { files: number; bytes: number } | undefined;
      if (options.input !== undefined) {
        // tar is loaded only for a job that sends a directory.
        const { sendInput } = await import('./job-archive-transfer.js');
        input = await sendInput(client, created.id, options.input);
      }
      if (options.json === true) printJson(input === undefined ? created : { ...created, input });
      else process.stdout.write(`${created.id}\n`);
      done.code = EXIT_OK;
    },
  );

  addClientOptions(
    job
      .command('status')
      .description('show one job: state, slot, exit code, why it ended or why it waits')
      .argument('<id>'),
  )
    .option('--json', "print the API's JSON")
    .action(async (id: string, options: ClientOptions & JsonOption) => {
      const view = await (await AgentClient.from(options)).request<JobJson>('GET', jobPath(id));
      if (options.json === true) printJson(view);
      else process.stdout.write(formatJobSummary(view));
      done.code = EXIT_OK;
    });

  addClientOptions(
    job.command('logs').description("print a job's output (stdout and stderr, as it was written)").argument('<id>'),
  )
    .option('-f, --follow', 'keep printing until the job is done')
    .action(async (id: string, options: ClientOptions & { follow?: boolean }) => {
      const client = await AgentClient.from(options);
      // Ctrl-C keeps its default meaning here: stop reading (the job goes on).
      const output = {
        write: streamWriter(process.stdout),
        signal: new AbortController().signal,
        onRetry: reportRetryOnStderr(id),
      };
      if (options.follow === true) await followOutput(client, id, output);
      else await copyOutput(client, id, output);
      done.code = EXIT_OK;
    });

  addClientOptions(
    job.command('outputs').description('download the files a job kept under $LABSLOT_OUTPUT').argument('<id>'),
  )
    .requiredOption('-o, --output <dir>', 'unpack them here (made if missing)')
    .option('--json', 'print what was unpacked where as JSON')
    .action(async (id: string, options: ClientOptions & JsonOption & { output: string }) => {
      const client = await AgentClient.from(options);
      const { downloadOutputs } = await import('./job-archive-transfer.js');
      const files = await downloadOutputs(client, id, options.output);
      if (options.json === true) printJson({ id, files, dir: options.output });
      else process.stderr.write(`labslot: ${plural(files, 'file')} of job ${id} in ${options.output}\n`);
      done.code = EXIT_OK;
    });

  addClientOptions(job.command('cancel').description('cancel a queued or running job').argument('<id>'))
    .option('--json', "print the agent's answer (the job's id and state)")
    .action(async (id: string, options: ClientOptions & JsonOption) => {
      const answer = await (
        await AgentClient.from(options)
      ).request<{ id: string; state: JobState }>('POST', jobPath(id, '/cancel'), {});
      const { state } = answer;
      if (options.json === true) printJson(answer);
      else
        process.stdout.write(
          isFinal(state)
            ? `job ${id} ${state}\n`
            : `job ${id} ${state}: cancel requested; it is stopped, cleaned up, and then ends as cancelled\n`,
        );
      done.code = EXIT_OK;
    });

  addClientOptions(job.command('list').description('list jobs, newest first'))
    .option('--state <state>', `only jobs in this state (${JOB_STATES.join(', ')})`)
    .option('--target <target>', 'only jobs for this target')
    .option('--limit <n>', 'at most this many jobs')
    .option('--json', "print the API's JSON")
    .action(async (options: ClientOptions & JsonOption & { state?: string; target?: string; limit?: string }) => {
      const query = new URLSearchParams();
      if (options.state !== undefined) {
        if (!(JOB_STATES as readonly string[]).includes(options.state))
          throw new CliError(`--state "${options.state}": expected one of ${JOB_STATES.join(', ')}`, EXIT_USAGE);
        query.set('state', options.state);
      }
      if (options.target !== undefined) query.set('target', options.target);
      if (options.limit !== undefined) {
        if (!/^\d+$/.test(options.limit) || Number(options.limit) < 1)
          throw new CliError(`--limit "${options.limit}": expected a whole number above 0`, EXIT_USAGE);
        query.set('limit', options.limit);
      }
      const search = query.size > 0 ? `?${query.toString()}` : '';
      const { jobs } = await (await AgentClient.from(options)).request<{ jobs: JobJson[] }>('GET', `/v1/jobs${search}`);
      if (options.json === true) printJson(jobs);
      else process.stdout.write(formatJobTable(jobs));
      done.code = EXIT_OK;
    });
}
