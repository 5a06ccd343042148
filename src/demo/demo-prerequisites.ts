// What `labslot demo` needs before it touches anything: root (it adds users,
// a network namespace and device grants), Linux, and the programs the emulated
// lab and the job sandbox run, named with the Debian package that has each.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { DemoError } from './demo-error.js';

/** Program → Debian package. */
export const DEMO_PROGRAMS: Readonly<Record<string, string>> = {
  socat: 'socat',
  pdudaemon: 'pdudaemon',
  ip: 'iproute2',
  ping: 'iputils-ping',
  setpriv: 'util-linux',
  bwrap: 'bubblewrap',
  python3: 'python3',
  useradd: 'passwd',
  userdel: 'passwd',
  // The agent keeps each demo job to its own slot's network ([jobs] network = "slot").
  nft: 'nftables',
};

export function onPath(program: string, path = process.env['PATH'] ?? ''): string | undefined {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

/** Throws a DemoError (prerequisite) naming everything missing at once. */
export function checkDemoPrerequisites(): void {
  if (process.platform !== 'linux')
    throw new DemoError('labslot demo needs Linux (network namespaces, PTYs, bubblewrap)', 'prerequisite');
  if (process.getuid?.() !== 0) {
    throw new DemoError(
      'labslot demo needs root: it creates job users, a network namespace and device grants (try: sudo npm run demo)',
      'prerequisite',
    );
  }
  const missing = Object.keys(DEMO_PROGRAMS).filter((program) => onPath(program) === undefined);
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((program) => DEMO_PROGRAMS[program]))].join(' ');
    throw new DemoError(
      `labslot demo needs ${missing.join(', ')} on PATH; on Debian: apt-get install ${packages}`,
      'prerequisite',
    );
  }
}
