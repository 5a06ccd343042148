// How a job reaches its own agent when the agent serves HTTPS. LABSLOT_URL
// stays the loopback URL (the job's network policy opens the agent's port
// there, and no DNS is needed), so the job checks the certificate against what
// it trusts and the name the agent advertises ([agent] url), both given in its
// environment: LABSLOT_CACERT, a copy of the CA in the command directory
// (bound read-only into every job), and LABSLOT_TLS_NAME.
import { rootCertificates } from 'node:tls';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { advertisedName, type AgentTls } from '../config/tls-files.js';

/** The CA file jobs trust, in the command directory. */
export function jobCaFile(commandDir: string): string {
  return join(commandDir, 'ca.pem');
}

/**
 * Writes what jobs trust, or removes a file an earlier HTTPS start left: the
 * lab's CA when there is one; otherwise the agent's own certificate (enough
 * for a self-signed one, or a chain file that ends with its root) beside
 * Node's default CAs (enough for a certificate a public CA signed).
 */
export async function writeJobCa(
  commandDir: string,
  tls: AgentTls | undefined,
  labCa: string | undefined,
): Promise<void> {
  const file = jobCaFile(commandDir);
  if (tls === undefined) {
    await rm(file, { force: true });
    return;
  }
  const trusted = labCa ?? [tls.cert, ...rootCertificates].join('\n');
  // Certificates are public; every job user reads this file.
  await writeFile(file, trusted, { mode: 0o644 });
}

/** The variables that let `labslot` inside a job trust its agent; none for a plain HTTP agent. */
export function jobTlsEnvironment(config: Config, commandDir: string): Record<string, string> {
  if (config.agent.tls === undefined) return {};
  const name = advertisedName(config);
  return { LABSLOT_CACERT: jobCaFile(commandDir), ...(name === undefined ? {} : { LABSLOT_TLS_NAME: name }) };
}
