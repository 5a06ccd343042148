// The -c option of every command that reads a config. Loading the config
// (load-lab.ts) is the action's business, so registering a command loads no
// TOML parser or schema.
import type { Command } from 'commander';

export function addConfigOption(command: Command): Command {
  return command.option(
    '-c, --config <file>',
    'slots.toml to use (default: $LABSLOT_CONFIG, then /etc/labslot/slots.toml)',
  );
}

export interface LoadOptions {
  config?: string;
  stateDir?: string;
  listen?: string;
}
