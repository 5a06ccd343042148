// The PEM files of HTTPS between hosts and clients (README "HTTPS between
// hosts and clients"), read and checked once where they are named: the
// agent's `[agent] tls` and `[lab] ca` at start, a client's --cacert. A file
// that cannot be used is said with its key and path, never as OpenSSL's
// "no start line" from deep inside a handshake.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { coerceError } from '../errors.js';
import { fileProblem } from './file-problem.js';
import type { Config } from './schema.js';

/** A PEM file named by `key` (`agent.tls.cert`, `--cacert`) that cannot be used; the agent refuses to start (exit 2). */
export class TlsFileError extends Error {
  override readonly name = 'TlsFileError';
  constructor(
    readonly key: string,
    readonly file: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`${key}: ${file}: ${reason}`, options);
  }
}

/** The agent's certificate (chain) and private key, PEM. */
export interface AgentTls {
  cert: string;
  key: string;
}

/** `[agent] tls` read and checked, or undefined when the agent serves plain HTTP. Paths are taken from the config's directory. */
export function readAgentTls(config: Config, configFile: string): AgentTls | undefined {
  const tls = config.agent.tls;
  if (tls === undefined) return undefined;
  const certFile = resolve(dirname(configFile), tls.cert);
  const keyFile = resolve(dirname(configFile), tls.key);
  const cert = readCertificates('agent.tls.cert', certFile);
  const key = readPem('agent.tls.key', keyFile);
  try {
    createPrivateKey(key);
  } catch (error) {
    throw new TlsFileError('agent.tls.key', keyFile, `is not a PEM private key (${reason(error)})`, { cause: error });
  }
  try {
    // The pair as the server will load it: a key that is not the certificate's fails here, not at the first client.
    createSecureContext({ cert, key });
  } catch (error) {
    throw new TlsFileError('agent.tls.key', keyFile, `does not go with agent.tls.cert ${certFile} (${reason(error)})`, {
      cause: error,
    });
  }
  return { cert, key };
}

/** `[lab] ca` read and checked (PEM contents), or undefined when the lab trusts Node's default CAs. */
export function readLabCa(config: Config, configFile: string): string | undefined {
  const ca = config.lab?.ca;
  return ca === undefined ? undefined : readCertificates('lab.ca', resolve(dirname(configFile), ca));
}

/**
 * The name the agent's certificate must carry when it is reached on an address it need not name (loopback): the host
 * of `[agent] url`, without the brackets an IPv6 address has in a URL. Undefined without a URL.
 */
export function advertisedName(config: Config): string | undefined {
  const url = config.agent.url;
  return url === undefined ? undefined : new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
}

/** A file of PEM certificates (a CA, a chain): its contents once at least the first one parses. */
export function readCertificates(key: string, file: string): string {
  const pem = readPem(key, file);
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new TlsFileError(key, file, 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  try {
    new X509Certificate(pem);
  } catch (error) {
    throw new TlsFileError(key, file, `is not a valid PEM certificate (${reason(error)})`, { cause: error });
  }
  return pem;
}

function readPem(key: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new TlsFileError(key, file, `cannot read it: ${fileProblem(error)}`, { cause: error });
  }
}

function reason(error: unknown): string {
  return coerceError(error).message;
}
