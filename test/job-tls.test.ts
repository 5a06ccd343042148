// What a job under an HTTPS agent is given to trust its agent (src/jobs/job-tls.ts):
// the lab's CA when there is one, else the agent's own chain beside Node's CAs;
// the advertised name to check the certificate against; nothing for plain HTTP.
// And [lab] ca read at start: a file that cannot be used names lab.ca.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { rootCertificates } from 'node:tls';
import type { Config } from '../src/config/schema.js';
import { readLabCa, TlsFileError } from '../src/config/tls-files.js';
import { jobCaFile, jobTlsEnvironment, writeJobCa } from '../src/jobs/job-tls.js';
import { tempDir } from './helpers/temp-dir.js';

const AGENT_TLS = { cert: '-----BEGIN CERTIFICATE-----\nagent\n-----END CERTIFICATE-----\n', key: 'key' };

/** The keys job-tls.ts reads; the rest of a config does not matter here. */
function config(agent: { tls?: { cert: string; key: string }; url?: string }, ca?: string): Config {
  return { agent, ...(ca === undefined ? {} : { lab: { ca } }) } as unknown as Config;
}

describe('a job under an HTTPS agent', () => {
  it("trusts the lab's CA when there is one, else the agent's own chain beside Node's CAs; removes it under plain HTTP", async (t) => {
    const dir = tempDir(t);
    const file = jobCaFile(dir);
    await writeJobCa(dir, AGENT_TLS, 'LAB CA PEM');
    assert.equal(readFileSync(file, 'utf8'), 'LAB CA PEM');
    assert.equal(statSync(file).mode & 0o777, 0o644, 'every job user reads it');

    await writeJobCa(dir, AGENT_TLS, undefined);
    const trusted = readFileSync(file, 'utf8');
    assert.ok(trusted.startsWith(AGENT_TLS.cert));
    assert.ok(rootCertificates.every((root) => trusted.includes(root)));

    // An agent started again without TLS leaves no stale trust behind.
    await writeJobCa(dir, undefined, undefined);
    assert.equal(existsSync(file), false);
  });

  it('is told the CA file and the advertised name (an IPv6 address without brackets); nothing under plain HTTP', () => {
    const tls = { cert: 'c.pem', key: 'k.pem' };
    assert.deepEqual(jobTlsEnvironment(config({}), '/state/bin'), {});
    assert.deepEqual(jobTlsEnvironment(config({ tls }), '/state/bin'), { LABSLOT_CACERT: '/state/bin/ca.pem' });
    assert.deepEqual(jobTlsEnvironment(config({ tls, url: 'https://lab-host-1.example:8421' }), '/state/bin'), {
      LABSLOT_CACERT: '/state/bin/ca.pem',
      LABSLOT_TLS_NAME: 'lab-host-1.example',
    });
    assert.deepEqual(jobTlsEnvironment(config({ tls, url: 'https://[fd00::5]:8421' }), '/state/bin'), {
      LABSLOT_CACERT: '/state/bin/ca.pem',
      LABSLOT_TLS_NAME: 'fd00::5',
    });
  });
});

describe('[lab] ca', () => {
  it("is read from the config file's directory, and one that is not a certificate names lab.ca and the file", (t) => {
    const dir = tempDir(t);
    const configFile = join(dir, 'slots.toml');
    writeFileSync(join(dir, 'ca.pem'), 'not a certificate\n');
    assert.equal(readLabCa(config({}), configFile), undefined);
    assert.throws(
      () => readLabCa(config({}, 'ca.pem'), configFile),
      (error: unknown) =>
        error instanceof TlsFileError &&
        error.message === `lab.ca: ${join(dir, 'ca.pem')}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    );
  });
});
