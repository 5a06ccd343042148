// USB identities as people read them: 1fc9:0143.

export function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

export function formatUsbId(vid: number, pid: number): string {
  return `${hex4(vid)}:${hex4(pid)}`;
}
