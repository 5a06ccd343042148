// The URL that reaches an agent from its own host, given its listen address:
// an agent listening on every address is reached on loopback; https:// when
// it serves HTTPS ([agent] tls). No trailing slash, so scripts can write
// "$LABSLOT_URL/v1/...".
export function agentUrl(host: string, port: number, https = false): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `${https ? 'https' : 'http'}://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}
