// The agent client of a command run inside a job (`labslot worker ...`): the
// job's own LABSLOT_URL and LABSLOT_TOKEN (a worker token, good for its one
// slot only) and nothing else, since a --url or --token could only point the
// worker token somewhere it does not belong. Without them there is no job.
import { AgentClient } from './agent-client.js';
import { CliError, EXIT_USAGE } from './exit-codes.js';

export async function workerClient(command: string, env: NodeJS.ProcessEnv): Promise<AgentClient> {
  const missing = ['LABSLOT_URL', 'LABSLOT_TOKEN', 'LABSLOT_WORKER'].filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new CliError(
      `worker ${command} only works inside a labslot job (${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set)`,
      EXIT_USAGE,
    );
  }
  return AgentClient.from({}, env);
}
