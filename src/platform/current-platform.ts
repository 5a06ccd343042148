// The platform of the operating system the agent runs on.
import { LinuxPlatform } from './linux.js';
import type { Platform } from './platform.js';

export function currentPlatform(): Platform {
  // illumos reports itself as "sunos"; its platform lives in illumos.ts once wired here.
  return new LinuxPlatform();
}
