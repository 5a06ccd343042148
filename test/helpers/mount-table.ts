// The host's mount table as mount ids and targets: a mount leaked or propagated
// out of a sandbox shows up as a new line. Network namespaces that another test
// or a demo on the host creates (`ip netns add` bind-mounts them under
// /run/netns) come and go on their own and are not a sandbox's leak.
import { readFileSync } from 'node:fs';

export function mountTable(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(' ').slice(0, 5))
    .filter((fields) => !(fields[4] ?? '').startsWith('/run/netns'))
    .map((fields) => fields.join(' '))
    .sort();
}
