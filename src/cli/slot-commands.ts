// `labslot slots [--json]`, `labslot slot hold NAME -m REASON [--replace]`,
// `labslot slot release NAME [-m NOTE]`: thin clients of the agent's API.
import { hostname, userInfo } from 'node:os';
import type { Command } from 'commander';
import { heldMessage } from '../slots/hold-message.js';
import type { HoldView, SlotView } from '../api/slot.js';
import { holder } from '../slots/holder.js';
import { addClientOptions, AgentClient, AgentError, type ClientOptions } from './agent-client.js';
import type { CommandResult } from './command-result.js';
import { CliError, EXIT_FAILURE, EXIT_OK } from './exit-codes.js';
import { formatTable } from './format-table.js';

/** Who is at the keyboard, for the hold's "by" (the token says which role). */
export function operatorName(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (containers): the token's hash prefix still identifies the caller.
  }
  return `${user}@${hostname()}`;
}

export function registerSlotCommands(program: Command, done: CommandResult): void {
  addClientOptions(program.command('slots').description('list slots with health, usage and holds'))
    .option('--json', "print the API's JSON")
    .option('--host <name>', 'in a lab: one host\'s slots only ("local": the agent asked)')
    .action(async (options: ClientOptions & { json?: boolean; host?: string }) => {
      const query = options.host === undefined ? '' : `?host=${encodeURIComponent(options.host)}`;
      const { slots, lab } = await (
        await AgentClient.from(options)
      ).request<{ slots: SlotView[]; lab?: { connected: boolean; problem: string | null } }>(
        'GET',
        `/v1/slots${query}`,
      );
      if (options.json === true) process.stdout.write(`${JSON.stringify(slots, null, 2)}\n`);
      else {
        // A lab's agent out of touch with the lab shows its own slots only, and says so.
        if (lab !== undefined && !lab.connected)
          process.stderr.write(
            `labslot: the lab database is out of reach (${lab.problem ?? '?'}): this host's slots only\n`,
          );
        const rows = slots.map((s) => {
          const sick = s.devices
            .filter((d) => d.health === 'unhealthy')
            .map((d) => `${d.name}: ${d.last_check?.reason ?? 'unhealthy'}`);
          const note = s.hold ? `held by ${holder(s.hold)}: ${s.hold.reason}` : sick.join('; ');
          const offline = s.unavailable?.kind === 'host' && lab !== undefined ? s.unavailable.detail : undefined;
          const row = [s.name, s.target, s.usage, s.hold ? 'HELD' : '-', s.health, s.conflicts_with.join(',') || '-'];
          // A lab's slots are on several hosts: which one is a column (and an offline host says so first).
          return [...row.slice(0, 1), ...(lab === undefined ? [] : [s.host]), ...row.slice(1), offline ?? note];
        });
        const header = ['SLOT', 'TARGET', 'USAGE', 'HOLD', 'HEALTH', 'CONFLICTS', 'NOTE'];
        process.stdout.write(formatTable([lab === undefined ? header : ['SLOT', 'HOST', ...header.slice(1)], ...rows]));
      }
      done.code = EXIT_OK;
    });

  const slot = program.command('slot').description('hold or release one slot');
  addClientOptions(slot.command('hold').description('keep a slot out of rotation until released').argument('<name>'))
    .requiredOption('-m, --message <reason>', 'why the slot is held')
    .option('--json', "print the agent's answer (the slot and its hold)")
    .option('--replace', "replace the slot's current hold (without it, a held slot is refused)")
    .action(async (name: string, options: ClientOptions & { message: string; json?: boolean; replace?: boolean }) => {
      const client = await AgentClient.from(options);
      let answer: { hold: HoldView; replaced: HoldView | null };
      try {
        answer = await client.request('POST', `/v1/slots/${encodeURIComponent(name)}/hold`, {
          reason: options.message,
          by: operatorName(),
          ...(options.replace === true ? { replace: true } : {}),
        });
      } catch (error) {
        // The agent's message says how an API client replaces a hold; this one has --replace.
        const hold =
          error instanceof AgentError && error.refusal?.code === 'slot_held'
            ? (error.refusal['hold'] as HoldView | undefined)
            : undefined;
        if (hold !== undefined)
          throw new CliError(`${heldMessage(name, hold)}; pass --replace to replace it`, EXIT_FAILURE, {
            cause: error,
          });
        throw error;
      }
      if (options.json === true) process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
      else {
        const replaced =
          answer.replaced === null
            ? ''
            : ` (replaces the hold by ${holder(answer.replaced)}: ${answer.replaced.reason})`;
        process.stdout.write(`${name} is held: ${options.message}${replaced}\n`);
      }
      done.code = EXIT_OK;
    });
  addClientOptions(
    slot.command('release').description('release a hold; the slot is checked before its next lease').argument('<name>'),
  )
    .option('-m, --message <note>', 'why it is fine again')
    .option('--json', "print the agent's answer (released, and whether the fresh check passed)")
    .action(async (name: string, options: ClientOptions & { message?: string; json?: boolean }) => {
      const client = await AgentClient.from(options);
      const result = await client.request<{ healthy: boolean }>(
        'POST',
        `/v1/slots/${encodeURIComponent(name)}/release`,
        { note: options.message, by: operatorName() },
      );
      if (options.json === true) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else
        process.stdout.write(
          `${name} released; fresh check: ${result.healthy ? 'healthy' : 'not healthy yet, it stays out of rotation until it is'}\n`,
        );
      done.code = EXIT_OK;
    });
}
