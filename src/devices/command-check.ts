// command checks: any program a lab already trusts (`humility probe`, a
// vendor tool). Exit 0 is healthy; the last lines of output are the detail.
// Placeholders are filled from the slot's devices, argument by argument, and
// the program runs without a shell, so no value can inject a command.
import { lastLines, runProcess } from '../platform/run-process.js';
import { lookupUser, type UnixAccount } from '../platform/lookup-user.js';
import { healthy, unhealthy, type CheckContext, type Verdict } from './check-result.js';

export interface CommandSpec {
  argv: string[];
  user?: string | undefined;
}

export type PlaceholderKind = 'tty' | 'usb_node' | 'address';
/** Resolves `{tty}` / `{tty:device-name}` to a value, or explains why there is none. */
export type PlaceholderResolver = (
  kind: PlaceholderKind,
  device: string | undefined,
) => Promise<{ value: string } | { missing: string }>;

const PLACEHOLDER = /\{(tty|usb_node|address)(?::([a-z0-9][a-z0-9-]*))?\}/g;

export async function expandPlaceholders(
  argv: readonly string[],
  resolve: PlaceholderResolver,
): Promise<{ argv: string[] } | { missing: string }> {
  const out: string[] = [];
  for (const arg of argv) {
    let expanded = '';
    let last = 0;
    for (const match of arg.matchAll(PLACEHOLDER)) {
      const value = await resolve(match[1] as PlaceholderKind, match[2]);
      if ('missing' in value) return { missing: `${match[0]}: ${value.missing}` };
      expanded += arg.slice(last, match.index) + value.value;
      last = match.index + match[0].length;
    }
    out.push(expanded + arg.slice(last));
  }
  return { argv: out };
}

export async function checkCommand(
  spec: CommandSpec,
  ctx: CheckContext,
  resolve: PlaceholderResolver,
): Promise<Verdict> {
  const expanded = await expandPlaceholders(spec.argv, resolve);
  if ('missing' in expanded) return unhealthy('not-present', `command placeholder has no value: ${expanded.missing}`);
  let argv = expanded.argv;
  let account: UnixAccount | undefined;
  if (spec.user !== undefined) {
    account = await lookupUser(spec.user, ctx.signal);
    if (!account) return unhealthy('error', `command check user "${spec.user}" does not exist`);
    // setpriv applies the user's supplementary groups (initgroups) and drops every privilege.
    argv = [
      'setpriv',
      `--reuid=${account.uid}`,
      `--regid=${account.gid}`,
      '--init-groups',
      '--no-new-privs',
      '--inh-caps=-all',
      '--',
      ...argv,
    ];
  }
  const result = await runProcess(argv, {
    timeoutMs: ctx.timeoutMs,
    signal: ctx.signal,
    env: account ? accountEnv(account) : undefined,
  });
  const program = expanded.argv[0] ?? '';
  if (result.spawnError)
    return unhealthy('error', `command ${program} cannot run: ${result.spawnError.code ?? result.spawnError.message}`);
  if (result.aborted) return unhealthy('error', `command ${program} aborted`, lastLines(result.output));
  if (result.timedOut)
    return unhealthy('timeout', `command ${program} timed out after ${ctx.timeoutMs} ms`, lastLines(result.output));
  if (result.code !== 0)
    return unhealthy(
      'command-failed',
      `command ${program} exited ${result.code ?? result.signal ?? 'abnormally'}`,
      lastLines(result.output),
    );
  return healthy(`command ${program} ok`, lastLines(result.output));
}

/** A check run as another user gets that user's environment, not the agent's (root's HOME, unit settings). */
function accountEnv(account: UnixAccount): NodeJS.ProcessEnv {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin',
    LANG: process.env['LANG'] ?? 'C.UTF-8',
    HOME: account.home,
    USER: account.name,
    LOGNAME: account.name,
  };
}
