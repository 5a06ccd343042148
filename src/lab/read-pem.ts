// A PEM file the config names ([lab] ca), read once at start: a missing or
// unreadable one refuses the start with the key and the file in the message.
import { readFileSync } from 'node:fs';
import { LabMembershipError } from './lab-errors.js';

export function readPem(file: string, key: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new LabMembershipError(
      `${key} ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code)}`,
      { cause: error },
    );
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----'))
    throw new LabMembershipError(`${key} ${file}: not a PEM certificate (no "BEGIN CERTIFICATE" line)`);
  return text;
}
