// The TCP port a URL reaches: its own, or its scheme's when it names none
// (pdudaemon's `url`, the agent's `$LABSLOT_URL`).

export function urlPort(url: URL): number {
  return url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}
