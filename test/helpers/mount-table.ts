// The host's mount table as mount ids and targets: a mount leaked or propagated
// out of a sandbox shows up as a new line. Network namespaces that another test
// or a demo on the host creates (`ip netns add` bind-mounts them under
// /run/netns) come and go on their own and are not a sandbox's leak.
import { readdirSync, readFileSync } from 'node:fs';

export function mountTable(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(' ').slice(0, 5))
    .filter((fields) => !(fields[4] ?? '').startsWith('/run/netns'))
    .map((fields) => fields.join(' '))
    .sort();
}

/** Loop devices whose backing file (a worker's disk image) is under `dir`: what a lab's jobs may leave. */
export function loopDevicesUnder(dir: string): string[] {
  return readdirSync('/sys/block')
    .filter((name) => name.startsWith('loop'))
    .filter((name) => {
      try {
        return readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').startsWith(`${dir}/`);
      } catch {
        return false;
      }
    });
}
