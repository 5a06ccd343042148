// The host's mount table as mount ids and targets: a mount leaked or propagated
// out of a sandbox shows up as a new line. What others on the host mount on
// their own is not a sandbox's leak and is left out: network namespaces
// (`ip netns add` bind-mounts them under /run/netns, for another test or a
// demo), the job disks of agents other than the lab under test
// (`<state_dir>/workers/<worker>/disk`), and the small state filesystem
// another test mounts for itself (jobs-disk.test.ts, `labslot-small-state-*`).
import { readdirSync, readFileSync } from 'node:fs';

const WORKER_DISK = /\/workers\/w[a-z0-9]+\/disk$/;
const SMALL_STATE = /\/labslot-small-state-[^/]+$/;

/** `ownStateDir`: the lab under test, whose job disks stay in the table. */
export function mountTable(ownStateDir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(' ').slice(0, 5))
    .filter(
      ([, , , , target = '']) =>
        !target.startsWith('/run/netns') &&
        !((WORKER_DISK.test(target) || SMALL_STATE.test(target)) && !target.startsWith(`${ownStateDir}/`)),
    )
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
