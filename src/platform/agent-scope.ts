// What an agent makes on the host outside its state directory (cgroups today,
// firewall rules later) carries this scope in its name. Two agents on one host
// have two state directories and so two scopes, and each one's orphan sweep
// takes only what carries its own: a second agent never kills the first one's
// jobs because its database does not know them.
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';

/** `a` and 12 hex digits of the state directory's real path: short enough for any name, stable across restarts. */
export function agentScope(stateDir: string): string {
  let path = stateDir;
  try {
    // One directory reached through a symlink or a relative path is still one agent.
    path = realpathSync(stateDir);
  } catch {
    // Not created yet: the path as given is what the agent will create.
  }
  return `a${createHash('sha256').update(path).digest('hex').slice(0, 12)}`;
}
