// HTTPS between an agent and its clients (README "HTTPS between hosts and
// clients"), with certificates from a CA that openssl makes per test: an agent
// with [agent] tls serves HTTPS; a client that does not trust it says so in one
// line and exits 1, and succeeds with --cacert or $LABSLOT_CACERT; a job under
// an HTTPS agent reaches it for `labslot worker mark-broken`; a certificate
// that cannot be used refuses the start (exit 2) naming the key and the file;
// a lab listening off loopback in plain HTTP is refused unless it opts out.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { SlotView } from './helpers/api-types.js';
import { startAgent } from './helpers/agent-process.js';
import { hasStackTrace, runCli } from './helpers/cli.js';
import { NOT_IN_A_JOB } from './helpers/job-cli.js';
import { requires, ROOT } from './helpers/prerequisites.js';
import { tempDir } from './helpers/temp-dir.js';
import { ADVERTISED_NAME, OPENSSL, testCerts } from './helpers/tls-certs.js';

/** A slot whose one device is always healthy: what a config needs to load. */
const SLOT = '[devices.s1-ok]\nkind = "command"\nargv = ["true"]\n[slots.s1]\ntarget = "tb"\ndevices = ["s1-ok"]\n';

const SUBMITTER_TOKEN = 'https-submitter';
const OPERATOR_TOKEN = 'https-operator';

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

const cli = (args: readonly string[], env: NodeJS.ProcessEnv = {}): ReturnType<typeof runCli> =>
  runCli(args, { env: { ...NOT_IN_A_JOB, ...env }, timeoutMs: 60_000 });

describe('an agent with [agent] tls', () => {
  it('serves HTTPS; a client trusts it with --cacert or LABSLOT_CACERT and says what to pass without', async (t) => {
    if (!requires(t, OPENSSL)) return;
    const certs = testCerts(t);
    const dir = tempDir(t);
    const config = join(dir, 'slots.toml');
    writeFileSync(
      config,
      `[agent]\nname = "tls-host"\ntls = { cert = "${certs.cert}", key = "${certs.key}" }\n${SLOT}`,
    );
    const agent = await startAgent(t, { config, stateDir: join(dir, 'state') });
    const url = `https://127.0.0.1:${agent.port}`;
    const listening = agent.logs.find((line) => line['msg'] === 'agent listening');
    assert.equal(listening?.['url'], url, 'the agent logs its own https:// URL');

    const untrusted = await cli(['slots', '--url', url]);
    assert.equal(untrusted.code, 1, untrusted.stderr);
    assert.match(
      untrusted.stderr,
      new RegExp(
        `^labslot: cannot reach the agent at ${url}/: the agent's certificate is not trusted \\([a-z ]+\\): pass --cacert FILE or set LABSLOT_CACERT\\n$`,
      ),
    );
    assert.equal(hasStackTrace(untrusted.stderr), false);

    const withOption = await cli(['slots', '--json', '--url', url, '--cacert', certs.ca]);
    assert.equal(withOption.code, 0, withOption.stderr);
    assert.deepEqual(
      (JSON.parse(withOption.stdout) as SlotView[]).map((s) => s.name),
      ['s1'],
    );
    const withEnv = await cli(['slots', '--json'], { LABSLOT_URL: url, LABSLOT_CACERT: certs.ca });
    assert.equal(withEnv.code, 0, withEnv.stderr);

    // A CA that did not sign it is as untrusted as none, and the message says so.
    const otherCa = await cli(['slots', '--url', url, '--cacert', certs.otherCa]);
    assert.equal(otherCa.code, 1, otherCa.stderr);
    assert.match(otherCa.stderr, /certificate is not trusted \(.+\): is --cacert the CA that signed it\?\n$/);

    // A CA file that cannot be read is the command line's fault, named as such.
    const missing = join(dir, 'nope.pem');
    const unreadable = await cli(['slots', '--url', url, '--cacert', missing]);
    assert.deepEqual(
      [unreadable.code, unreadable.stderr],
      [2, `labslot: --cacert: ${missing}: cannot read it: no such file\n`],
    );
    const notPem = await cli(['slots'], { LABSLOT_URL: url, LABSLOT_CACERT: config });
    assert.deepEqual(
      [notPem.code, notPem.stderr],
      [2, `labslot: LABSLOT_CACERT: ${config}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)\n`],
    );
  });

  it('lets a job reach it on loopback for `labslot worker mark-broken`, checking the name it advertises', async (t) => {
    if (!requires(t, ROOT, OPENSSL)) return;
    const certs = testCerts(t);
    const dir = tempDir(t);
    // Workers reach their directories under the state dir, as under /var/lib on a lab host.
    chmodSync(dir, 0o755);
    const config = join(dir, 'slots.toml');
    // The certificate names only the advertised host, not 127.0.0.1, and its file is the chain up to the CA: with no
    // [lab] ca, that chain is what the job trusts.
    writeFileSync(
      config,
      [
        '[agent]',
        'name = "tls-host"',
        `url = "https://${ADVERTISED_NAME}:8421"`,
        `tls = { cert = "${certs.namedChain}", key = "${certs.namedKey}" }`,
        '[auth]',
        `operators = ["${sha256(OPERATOR_TOKEN)}"]`,
        `submitters = ["${sha256(SUBMITTER_TOKEN)}"]`,
        '[health]',
        'interval = "1h"',
        'success_threshold = 1',
        '[jobs]',
        'stop_grace = "1s"',
        SLOT,
      ].join('\n'),
    );
    const agent = await startAgent(t, { config, stateDir: join(dir, 'state') });
    // From outside, too, the agent is reached on loopback and checked against its advertised name.
    const env = {
      LABSLOT_URL: `https://127.0.0.1:${agent.port}`,
      LABSLOT_TLS_NAME: ADVERTISED_NAME,
      LABSLOT_CACERT: certs.ca,
      LABSLOT_TOKEN: SUBMITTER_TOKEN,
    };
    const script =
      'echo "url=$LABSLOT_URL name=$LABSLOT_TLS_NAME"; labslot worker mark-broken -m "probe gone"; echo "exit=$?"';
    const run = await cli(['job', 'run', '--target', 'tb', '--', 'sh', '-c', script], env);
    // A marked-broken job ends as the lab's failure: exit 1 (README "Exit codes").
    assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, new RegExp(`^url=https://127\\.0\\.0\\.1:${agent.port} name=${ADVERTISED_NAME}$`, 'm'));
    assert.match(run.stdout, /s1 is held: probe gone/);
    assert.match(run.stdout, /^exit=0$/m);

    const slots = await cli(['slots', '--json'], env);
    assert.equal(slots.code, 0, slots.stderr);
    const s1 = (JSON.parse(slots.stdout) as SlotView[]).find((s) => s.name === 's1');
    assert.deepEqual([s1?.hold?.reason, s1?.hold?.source], ['probe gone', 'job']);

    // Without the advertised name, loopback is not a name the certificate carries.
    const unnamed = await cli(['slots'], { ...env, LABSLOT_TLS_NAME: '' });
    assert.equal(unnamed.code, 1, unnamed.stderr);
    assert.match(unnamed.stderr, /the agent's certificate does not name this host/);
  });

  it('refuses to start (exit 2) when a certificate or key cannot be used, naming the key and the file', async (t) => {
    if (!requires(t, OPENSSL)) return;
    const certs = testCerts(t);
    const dir = tempDir(t);
    const config = join(dir, 'slots.toml');
    const missing = join(dir, 'missing.pem');
    const cases: { tls: string; stderr: string }[] = [
      {
        tls: `{ cert = "${missing}", key = "${certs.key}" }`,
        stderr: `labslot: agent.tls.cert: ${missing}: cannot read it: no such file\n`,
      },
      {
        tls: `{ cert = "${certs.key}", key = "${certs.key}" }`,
        stderr: `labslot: agent.tls.cert: ${certs.key}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)\n`,
      },
      {
        tls: `{ cert = "${certs.cert}", key = "${certs.cert}" }`,
        stderr: `^labslot: agent\\.tls\\.key: ${certs.cert}: is not a PEM private key \\(.+\\)\\n$`,
      },
      {
        tls: `{ cert = "${certs.cert}", key = "${certs.namedKey}" }`,
        stderr: `^labslot: agent\\.tls\\.key: ${certs.namedKey}: does not go with agent\\.tls\\.cert ${certs.cert} \\(.+\\)\\n$`,
      },
    ];
    for (const { tls, stderr } of cases) {
      writeFileSync(config, `[agent]\ntls = ${tls}\n${SLOT}`);
      const result = await cli(['agent', '-c', config, '--state-dir', join(dir, 'state'), '--listen', '127.0.0.1:0']);
      assert.equal(result.code, 2, `${tls}: ${result.stderr}`);
      if (stderr.startsWith('^')) assert.match(result.stderr, new RegExp(stderr), tls);
      else assert.equal(result.stderr, stderr, tls);
    }
  });
});

describe('labslot config validate, a lab off loopback', () => {
  it('refuses plain HTTP (exit 2) naming insecure_plain_http_sends_tokens_in_clear, and takes the opt-out', async (t) => {
    const dir = tempDir(t);
    const config = join(dir, 'slots.toml');
    const toml = (lab: string): string =>
      `[agent]\nlisten = "0.0.0.0:8421"\nurl = "http://${ADVERTISED_NAME}:8421"\n[lab]\ndatabase = "postgres://labslot@db.lab.example/labslot"\n${lab}${SLOT}`;
    writeFileSync(config, toml(''));
    const refused = await cli(['config', 'validate', '-c', config]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(
      refused.stderr,
      /agent\.listen: a lab agent listening on 0\.0\.0\.0 \(not loopback\) would take tokens over plain HTTP/,
    );
    assert.match(refused.stderr, /\[lab\] insecure_plain_http_sends_tokens_in_clear = true/);

    writeFileSync(config, toml('insecure_plain_http_sends_tokens_in_clear = true\n'));
    const accepted = await cli(['config', 'validate', '-c', config]);
    assert.equal(accepted.code, 0, accepted.stderr);
  });
});
