// `labslot hosts [--json]`: the lab's agents (DESIGN §7), whether each is
// online and when it last reported. An agent alone lists itself.
import type { Command } from 'commander';
import type { LabHostView } from '../api/host.js';
import { addClientOptions, AgentClient, type ClientOptions } from './agent-client.js';
import type { CommandResult } from './command-result.js';
import { EXIT_OK } from './exit-codes.js';
import { formatTable } from './format-table.js';

interface HostsAnswer {
  lab: boolean;
  host_timeout_ms: number | null;
  hosts: LabHostView[];
}

export function registerHostCommands(program: Command, done: CommandResult): void {
  addClientOptions(
    program.command('hosts').description("list the lab's hosts, online or not, and when each last reported"),
  )
    .option('--json', "print the API's JSON")
    .action(async (options: ClientOptions & { json?: boolean }) => {
      const answer = await (await AgentClient.from(options)).request<HostsAnswer>('GET', '/v1/hosts');
      if (options.json === true) {
        process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
        done.code = EXIT_OK;
        return;
      }
      const now = Date.now();
      const rows = answer.hosts.map((h) => [
        `${h.name}${h.this_host ? ' *' : ''}`,
        h.online ? 'online' : 'OFFLINE',
        `${Math.max(0, Math.round((now - Date.parse(h.last_seen)) / 1000))}s ago`,
        h.url,
        h.version,
        h.slots.join(',') || '-',
      ]);
      process.stdout.write(formatTable([['HOST', 'STATE', 'LAST SEEN', 'URL', 'VERSION', 'SLOTS'], ...rows]));
      if (!answer.lab) process.stdout.write('(a host alone: its config has no [lab])\n');
      done.code = EXIT_OK;
    });
}
