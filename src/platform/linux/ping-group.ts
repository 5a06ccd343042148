// Whether worker users can `ping`: the kernel gives ICMP datagram sockets
// (IPv4 and IPv6) only to groups in net.ipv4.ping_group_range, and a job has no
// CAP_NET_RAW. The agent reads the range and says what to do; it never writes
// it, since systemd's ProtectKernelTunables makes /proc/sys read-only for it.
import { readFileSync } from 'node:fs';
import { WORKER_ID_MAX, WORKER_ID_MIN } from '../unix-users.js';

export const PING_GROUP_RANGE = '/proc/sys/net/ipv4/ping_group_range';
/** The file labslot ships, and where the README's install puts it. */
export const PING_SYSCTL_FILE = '/etc/sysctl.d/60-labslot-ping.conf';

/** Undefined when the range covers every worker gid; otherwise what is wrong and what to do. */
export function pingRangeWarning(text: string | undefined): string | undefined {
  const [low, high] = (text ?? '').trim().split(/\s+/).map(Number);
  if (low !== undefined && high !== undefined && low <= WORKER_ID_MIN && high >= WORKER_ID_MAX) return undefined;
  const found =
    text === undefined
      ? `${PING_GROUP_RANGE} cannot be read`
      : `net.ipv4.ping_group_range is "${text.trim().replace(/\s+/, ' ')}"`;
  return (
    `${found}, not covering the worker groups ${WORKER_ID_MIN}-${WORKER_ID_MAX}: ping fails in jobs. ` +
    `Install systemd/sysctl.d/60-labslot-ping.conf from the labslot package as ${PING_SYSCTL_FILE} ` +
    `and run: sysctl -p ${PING_SYSCTL_FILE}`
  );
}

export function pingWarning(file = PING_GROUP_RANGE): string | undefined {
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    text = undefined;
  }
  return pingRangeWarning(text);
}
