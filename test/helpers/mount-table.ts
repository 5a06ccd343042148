// The host's mount table as mount ids and targets: a mount leaked or propagated
// out of a sandbox shows up as a new line.
import { readFileSync } from 'node:fs';

export function mountTable(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').trim().split('\n').map((l) => l.split(' ').slice(0, 5).join(' ')).sort();
}
