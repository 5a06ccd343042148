// The URL that reaches an agent from its own host, given its listen address:
// an agent listening on every address is reached on loopback. No trailing
// slash, so scripts can write "$LABSLOT_URL/v1/...".
export function agentUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}
