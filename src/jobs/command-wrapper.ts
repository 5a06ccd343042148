// Jobs find `labslot` on their PATH (DESIGN §3): the agent writes a tiny
// wrapper into the state directory that runs this very installation with the
// same Node. The paths are the agent's own, never a job's, and are quoted for
// sh anyway.
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ENTRY_POINT = fileURLToPath(new URL('../../bin/labslot.js', import.meta.url));

/** The installation the wrapper runs: jobs need it readable even where their sandbox puts /work. */
export const INSTALL_ROOT = dirname(dirname(ENTRY_POINT));

export async function writeCommandWrapper(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await chmod(dir, 0o755);
  const file = join(dir, 'labslot');
  await writeFile(file, `#!/bin/sh\nexec ${shQuote(process.execPath)} ${shQuote(ENTRY_POINT)} "$@"\n`, { mode: 0o755 });
  await chmod(file, 0o755);
  return file;
}

function shQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
