// `labslot config validate [-c FILE] [--json]`: exit 0 with a one-line summary
// (or its JSON), or 2 with every error.
import type { Command } from 'commander';
import type { CommandResult } from './command-result.js';
import { addConfigOption } from './config-options.js';
import { EXIT_OK } from './exit-codes.js';

export function registerConfigValidate(config: Command, done: CommandResult): void {
  addConfigOption(config.command('validate').description('check a slots.toml and summarize it'))
    .option('--json', 'print the summary as JSON')
    .action(async (options: { config?: string; json?: boolean }) => {
      const { loadLab } = await import('./load-lab.js');
      const lab = loadLab(options);
      const shared = [...lab.devices.values()].filter((d) => d.usedBy.length > 1).length;
      const unused = [...lab.devices.values()].filter((d) => d.usedBy.length === 0).map((d) => d.name);
      if (options.json === true) {
        const targets = Object.fromEntries([...lab.targets.entries()].map(([t, s]) => [t, s.length]));
        const summary = {
          file: lab.file,
          ok: true,
          slots: lab.slots.size,
          devices: lab.devices.size,
          shared_devices: shared,
          targets,
          unused_devices: unused,
        };
        process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      } else {
        const targets = [...lab.targets.entries()].map(([t, s]) => `${t} (${s.length})`).join(', ');
        process.stdout.write(
          `${lab.file}: ok: ${plural(lab.slots.size, 'slot')}, ${plural(lab.devices.size, 'device')} (${shared} shared), ` +
            `${plural(lab.targets.size, 'target')}: ${targets}\n`,
        );
      }
      for (const name of unused)
        process.stderr.write(`${lab.file}: warning: devices.${name} is not used by any slot\n`);
      done.code = EXIT_OK;
    });
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
