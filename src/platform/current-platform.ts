// The platform of the operating system the agent runs on: illumos reports
// itself to Node as "sunos"; everything else this agent supports is Linux.
import { join } from 'node:path';
import { agentScope } from './agent-scope.js';
import { IllumosPlatform } from './illumos/illumos-platform.js';
import { LinuxPlatform } from './linux/linux-platform.js';
import type { Platform } from './platform.js';

/** `stateDir` scopes what the platform makes on the host to this agent (agent-scope.ts). */
export function currentPlatform(stateDir: string, os: NodeJS.Platform = process.platform): Platform {
  // The workers directory, as job-paths.ts names it; platform/ sits below jobs/ and does not import it.
  return os === 'sunos'
    ? new IllumosPlatform({ workersDir: join(stateDir, 'workers') })
    : new LinuxPlatform(agentScope(stateDir));
}
