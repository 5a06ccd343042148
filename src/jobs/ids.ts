// Short random identifiers: jobs and workers are named in logs, user names
// (`ls-<worker>`, at most 32 characters) and URLs, so they stay short and
// lowercase, with enough entropy that a guess never finds another's job.
import { randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';

function randomName(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += ALPHABET.charAt(byte % ALPHABET.length);
  return out;
}

export function newJobId(): string {
  return `j${randomName(11)}`;
}

export function newWorkerId(): string {
  return `w${randomName(11)}`;
}
