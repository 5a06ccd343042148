// What a client trusts when it speaks HTTPS to an agent: the CA that signed
// the agent's certificate (PEM; Node's default CAs when absent), and the name
// the certificate must carry when that is not the URL's host. A job reaches
// its agent at a loopback address its certificate need not name (the job's
// network policy opens the agent's port there, and no DNS is needed), so it
// checks the certificate against the agent's advertised name instead.
import { isIP } from 'node:net';
import { checkServerIdentity, type ConnectionOptions } from 'node:tls';

export interface TlsTrust {
  /** PEM certificates to trust instead of Node's default CAs. */
  ca?: string;
  /** The host name (or address) the certificate must name, when not the URL's host. */
  name?: string;
}

/** The options of https.request (tls.connect) for `trust`. */
export function tlsOptions(trust: TlsTrust): ConnectionOptions {
  const options: ConnectionOptions = {};
  if (trust.ca !== undefined) options.ca = trust.ca;
  const name = trust.name;
  if (name !== undefined) {
    // SNI carries names only (an address there is a Node deprecation warning); the identity check takes either.
    if (isIP(name) === 0) options.servername = name;
    options.checkServerIdentity = (_host, cert) => checkServerIdentity(name, cert);
  }
  return options;
}
