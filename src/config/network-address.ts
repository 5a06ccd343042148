// `[jobs] network_allow` entries: an IP address or CIDR block, optionally with
// a port ("10.0.0.5", "10.0.0.0/24", "10.0.0.5:8080", "2001:db8::/64",
// "[2001:db8::1]:443", "[2001:db8::/64]:443"). Only literals: a host name would
// be resolved once, and what it names may change under the rule.
import { isIP } from 'node:net';

/** One address or block a rule matches; `port` (TCP and UDP) narrows it, otherwise all of its traffic counts. */
export interface NetworkAddress {
  address: string;
  /** Prefix length of a CIDR block; undefined: the one address. */
  prefix?: number | undefined;
  port?: number | undefined;
}

const BRACKETED = /^\[([^\]]+)\]:(\d{1,5})$/;
const IPV4_WITH_PORT = /^([0-9./]+):(\d{1,5})$/;

/** The parsed entry, or why it is not one (said after the entry's key path). */
export function parseNetworkAddress(text: string): NetworkAddress | { error: string } {
  const bad = {
    error: `"${text}" is not an IP address or CIDR block with an optional :PORT ("10.0.0.5:8080", "[2001:db8::1]:443", "192.0.2.0/24")`,
  };
  let block = text;
  let port: number | undefined;
  const withPort = BRACKETED.exec(text) ?? IPV4_WITH_PORT.exec(text);
  if (withPort) {
    block = withPort[1] ?? '';
    port = Number(withPort[2]);
    if (port < 1 || port > 65_535) return { error: `"${text}": port ${port} is not in 1-65535` };
  }
  const [address = '', prefixText, ...rest] = block.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return bad;
  // IPv6 with a port must be bracketed: "2001:db8::1:443" is itself an address.
  if (family === 6 && port !== undefined && !text.startsWith('[')) return bad;
  if (prefixText === undefined) return { address, port };
  const prefix = Number(prefixText);
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefixText) || prefix > max)
    return { error: `"${text}": prefix /${prefixText} is not in 0-${max} for an IPv${family} block` };
  return { address, prefix, port };
}
