// Loading the config for a command, with the command line layered over the file.
import type { Command } from 'commander';
import { configPathFrom, loadConfig } from '../config/load-config.js';
import type { LabModel } from '../config/lab-model.js';
import { parseListen } from '../config/schema.js';
import { CliError, EXIT_USAGE } from './exit-codes.js';

export function addConfigOption(command: Command): Command {
  return command.option('-c, --config <file>', 'slots.toml to use (default: $LABSLOT_CONFIG, then /etc/labslot/slots.toml)');
}

export interface LoadOptions {
  config?: string;
  stateDir?: string;
  listen?: string;
}

export function loadLab(options: LoadOptions): LabModel {
  let listen;
  if (options.listen !== undefined) {
    listen = parseListen(options.listen, { allowAnyPort: true });
    if (!listen) throw new CliError(`--listen: "${options.listen}" is not host:port (e.g. 127.0.0.1:8421)`, EXIT_USAGE);
  }
  return loadConfig(configPathFrom(options.config), { stateDir: options.stateDir, listen });
}
