// Runs INSIDE the QEMU USB lab guest: the built `labslot` command line, run as
// an operator runs it, to the end (usb-cli-guest.ts, discover-guest.ts). The
// guest sees the project at the host's path, so runCli's is the same one.
import { runCli, type CliResult } from './cli.js';

export interface Exit extends CliResult {
  ms: number;
}

/** `labslot ARGS`, to the end (killed after timeoutMs), and how long it took; `env` is added to this process's. */
export async function labslot(
  args: readonly string[],
  timeoutMs: number,
  env: Readonly<Record<string, string>> = {},
): Promise<Exit> {
  const started = performance.now();
  const result = await runCli(args, { timeoutMs, env });
  return { ...result, ms: Math.round(performance.now() - started) };
}
