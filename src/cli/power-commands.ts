// `labslot worker power on|off|cycle [DEVICE]` (inside a job: its own slot's
// outlets, with the job's worker token) and `labslot power on|off|cycle SLOT
// [DEVICE]` (operators, any slot). Thin clients of POST /v1/worker/power and
// POST /v1/slots/:name/power; the agent switches through the same drivers its
// health checks use, and refuses another slot's outlet.
import { Argument, type Command } from 'commander';
import { addClientOptions, AgentClient, type ClientOptions } from './agent-client.js';
import type { CommandResult } from './command-result.js';
import { EXIT_OK } from './exit-codes.js';
import { operatorName } from './slot-commands.js';
import { workerClient } from './worker-client.js';

const ACTIONS = ['on', 'off', 'cycle'] as const;
type Action = (typeof ACTIONS)[number];

interface PowerAnswer {
  slot: string;
  action: Action;
  devices: string[];
}

function actionArgument(): Argument {
  return new Argument('<action>', 'on, off, or cycle (off, then on)').choices(ACTIONS);
}

/** One line per request; pdudaemon only says it accepted the switch, so "sent" is all labslot can claim for it. */
function summary(answer: PowerAnswer): string {
  return `power ${answer.action} sent to ${answer.devices.join(', ')} (slot ${answer.slot})`;
}

/** `labslot worker power`, beside `worker mark-broken`. */
export function registerWorkerPower(worker: Command, done: CommandResult): void {
  worker
    .command('power')
    .description("inside a job: switch this job's own slot's power outlets (all of them, or DEVICE)")
    .addArgument(actionArgument())
    .argument('[device]', 'one power device of the slot, by its name in the config')
    .option('--json', "print the agent's answer (slot, action, the devices switched, job and worker)")
    .action(async (action: Action, device: string | undefined, options: { json?: boolean }) => {
      const env = process.env;
      // The agent takes the slot from the token; the job's $LABSLOT_SLOT and $LABSLOT_WORKER only guard against a borrowed token.
      const client = await workerClient('power', env);
      const answer = await client.request<PowerAnswer>('POST', '/v1/worker/power', {
        action,
        device,
        slot: env['LABSLOT_SLOT'] || undefined,
        worker: env['LABSLOT_WORKER'],
      });
      if (options.json === true) process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
      else process.stderr.write(`labslot: ${summary(answer)}\n`);
      done.code = EXIT_OK;
    });
}

/** `labslot power`, for operators. */
export function registerPowerCommands(program: Command, done: CommandResult): void {
  addClientOptions(
    program
      .command('power')
      .description("switch a slot's power outlets (all of them, or DEVICE); operator token")
      .addArgument(actionArgument())
      .argument('<slot>', 'the slot')
      .argument('[device]', 'one power device of the slot, by its name in the config'),
  )
    .option('--json', "print the agent's answer (slot, action, the devices switched)")
    .action(
      async (action: Action, slot: string, device: string | undefined, options: ClientOptions & { json?: boolean }) => {
        const client = await AgentClient.from(options);
        const answer = await client.request<PowerAnswer>('POST', `/v1/slots/${encodeURIComponent(slot)}/power`, {
          action,
          device,
          by: operatorName(),
        });
        if (options.json === true) process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
        else process.stdout.write(`${summary(answer)}\n`);
        done.code = EXIT_OK;
      },
    );
}
