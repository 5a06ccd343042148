// `labslot config validate [-c FILE]`: exit 0 with a one-line summary, or 2 with every error.
import type { Command } from 'commander';
import { addConfigOption, loadLab } from './config-options.js';
import { EXIT_OK } from './exit-codes.js';
import type { CommandResult } from './command-result.js';

export function registerConfigValidate(config: Command, done: CommandResult): void {
  addConfigOption(config.command('validate').description('check a slots.toml and summarize it'))
    .action((options: { config?: string }) => {
      const lab = loadLab(options);
      const shared = [...lab.devices.values()].filter((d) => d.usedBy.length > 1).length;
      const unused = [...lab.devices.values()].filter((d) => d.usedBy.length === 0).map((d) => d.name);
      const targets = [...lab.targets.entries()].map(([t, s]) => `${t} (${s.length})`).join(', ');
      process.stdout.write(
        `${lab.file}: ok: ${plural(lab.slots.size, 'slot')}, ${plural(lab.devices.size, 'device')} (${shared} shared), ` +
          `${plural(lab.targets.size, 'target')}: ${targets}\n`,
      );
      for (const name of unused) process.stderr.write(`${lab.file}: warning: devices.${name} is not used by any slot\n`);
      done.code = EXIT_OK;
    });
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
