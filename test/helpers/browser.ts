// Debian's Chromium driven by playwright-core (no browser download; DESIGN §6).
// The flags keep Chromium off the network this machine does not have.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import type { Cleanup } from './cleanup.js';
import type { Prerequisite } from './prerequisites.js';

const CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM: Prerequisite = {
  what: `Debian's chromium at ${CHROMIUM_PATH}`,
  met: () => existsSync(CHROMIUM_PATH),
};

export async function launchChromium(t: Cleanup): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    timeout: 60_000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  t.after(() => browser.close());
  return browser;
}
