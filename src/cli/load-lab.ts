// Loading the config for a command, with the command line layered over the file.
import { configPathFrom } from '../config/load-config.js';
import { loadLabConfig } from '../devices/load-lab-config.js';
import type { LabModel } from '../config/lab-model.js';
import { parseListen } from '../config/schema.js';
import type { LoadOptions } from './config-options.js';
import { CliError, EXIT_USAGE } from './exit-codes.js';

export function loadLab(options: LoadOptions): LabModel {
  let listen;
  if (options.listen !== undefined) {
    listen = parseListen(options.listen, { allowAnyPort: true });
    if (!listen) throw new CliError(`--listen: "${options.listen}" is not host:port (e.g. 127.0.0.1:8421)`, EXIT_USAGE);
  }
  return loadLabConfig(configPathFrom(options.config), { stateDir: options.stateDir, listen });
}
