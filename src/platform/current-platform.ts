// The platform of the operating system the agent runs on: illumos reports
// itself to Node as "sunos"; everything else this agent supports is Linux.
import { IllumosPlatform } from './illumos.js';
import { LinuxPlatform } from './linux.js';
import type { Platform } from './platform.js';

export function currentPlatform(workersDir: string, os: NodeJS.Platform = process.platform): Platform {
  return os === 'sunos' ? new IllumosPlatform({ workersDir }) : new LinuxPlatform();
}
