// Real certificates for HTTPS tests, made with the `openssl` command in a
// temporary directory: a CA, a server certificate it signed for 127.0.0.1 and
// localhost, one for a host name only (an agent reached on loopback that
// advertises another name), and a second CA that signed neither.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { command, type Prerequisite } from './prerequisites.js';
import { tempDir } from './temp-dir.js';

export const OPENSSL: Prerequisite = command('openssl', ['version']);

/** The name the `named` certificate carries, and nothing else. */
export const ADVERTISED_NAME = 'lab-host-1.example';

export interface TestCerts {
  dir: string;
  /** The CA that signed both server certificates (PEM file). */
  ca: string;
  /** A CA that signed nothing here: trusting it is not trusting the agent. */
  otherCa: string;
  /** Server certificate and key for IP:127.0.0.1 and DNS:localhost. */
  cert: string;
  key: string;
  /** Server certificate (its chain file: the certificate, then the CA) and key for DNS:lab-host-1.example only. */
  namedChain: string;
  namedKey: string;
}

export function testCerts(t: TestContext): TestCerts {
  const dir = tempDir(t, 'labslot-tls-');
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
  };
  // EC keys: RSA generation would take most of a test's time.
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = (name: string): void =>
    openssl(
      'req',
      '-x509',
      ...newKey,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-subj',
      `/CN=labslot test ${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
  const server = (name: string, altNames: string): void => {
    writeFileSync(
      join(dir, `${name}.ext`),
      `subjectAltName=${altNames}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n`,
    );
    openssl('req', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    );
  };
  ca('ca');
  ca('other-ca');
  server('server', 'IP:127.0.0.1,DNS:localhost');
  server('named', `DNS:${ADVERTISED_NAME}`);
  const namedChain = join(dir, 'named-chain.pem');
  writeFileSync(namedChain, readFileSync(join(dir, 'named.pem'), 'utf8') + readFileSync(join(dir, 'ca.pem'), 'utf8'));
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    otherCa: join(dir, 'other-ca.pem'),
    cert: join(dir, 'server.pem'),
    key: join(dir, 'server.key'),
    namedChain,
    namedKey: join(dir, 'named.key'),
  };
}
