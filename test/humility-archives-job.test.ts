// Hubris archives end to end: `labslot job run --input DIR --archive sp=PATH`
// against a real agent that runs the job as a real worker in its sandbox; the
// job reads $HUMILITY_ENVIRONMENT, finds its own archive there as /input/...,
// and opens it. A probe with no archive is left out with a note first in the
// output, and an archive the input lacks is refused before any slot is used.
// This machine has no USB bus, so the agent is given one listing (the
// `listUsb` option): two probes whose nodes are character devices made here.
// Everything else is the agent's own: health checks, lease, grants, sandbox.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { Agent } from '../src/agent.js';
import { loadLabConfig } from '../src/devices/load-lab-config.js';
import type { UsbDeviceInfo } from '../src/devices/usb-bus.js';
import { createLogger } from '../src/log.js';
import { runCli } from './helpers/cli.js';
import { humilityReads } from './helpers/humility-reader.js';
import { waitHealthy } from './helpers/job-lab.js';
import { assertNoLeaks } from './helpers/leak-check.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';

const SUBMITTER = 'humility-archives-submitter';
const OPERATOR = 'humility-archives-operator';
const NEEDS = [
  ROOT,
  command('setpriv', ['--version']),
  command('bwrap', ['--version']),
  command('mknod', ['--version']),
  command('tar'),
];
const SP = { vid: 0x1fc9, pid: 0x0143, serial: 'SP-ARCHIVE-1' };
const ROT = { vid: 0x1fc9, pid: 0x0143, serial: 'ROT-ARCHIVE-1' };

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

interface ArchiveLab {
  dir: string;
  url: string;
  /** The job's own input, as a CI pipeline would have built it. */
  input: string;
  rotArchive: string;
  api: (
    method: string,
    path: string,
    body?: RequestInit['body'],
    contentType?: string,
  ) => Promise<{ status: number; json: Record<string, unknown> }>;
  cli: (args: readonly string[]) => ReturnType<typeof runCli>;
}

async function archiveLab(t: TestContext): Promise<ArchiveLab> {
  // One cleanup, in order: the agent stops (and restores its grants) before its directory goes.
  const dir = mkdtempSync(join(tmpdir(), 'labslot-test-'));
  const running: { agent?: Agent } = {};
  t.after(async () => {
    try {
      await running.agent?.stop();
      // An agent in this process: no mark or children of its own to look for, but its workers, cgroups and mounts.
      if (running.agent) await assertNoLeaks({ stateDir: join(dir, 'state') });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  // Workers reach the state directory under it, as under /var/lib on a lab host.
  chmodSync(dir, 0o755);
  const nodes = { sp: join(dir, 'sp-probe'), rot: join(dir, 'rot-probe') };
  // Stand-ins for /dev/bus/usb/BBB/DDD: character devices (as /dev/null), granted and restored like the real ones.
  for (const node of Object.values(nodes))
    assert.equal(spawnSync('mknod', ['-m', '0600', node, 'c', '1', '3']).status, 0, `mknod ${node}`);
  const rotArchive = join(dir, 'hubris', 'rot-a.zip');
  const toml =
    `[agent]\nname = "archive-lab"\n[auth]\noperators = ["${sha256(OPERATOR)}"]\nsubmitters = ["${sha256(SUBMITTER)}"]\n` +
    `[health]\ninterval = "1h"\nsuccess_threshold = 1\n[jobs]\nstop_grace = "1s"\n` +
    `[devices.g1-sp]\nkind = "usb"\nvid = ${SP.vid}\npid = ${SP.pid}\nserial = "${SP.serial}"\nrole = "sp-probe"\n` +
    `[devices.g1-rot]\nkind = "usb"\nvid = ${ROT.vid}\npid = ${ROT.pid}\nserial = "${ROT.serial}"\nrole = "rot-probe"\narchive = { a = "${rotArchive}" }\n` +
    `[slots.gimlet-1]\ntarget = "gimlet"\ndevices = ["g1-sp", "g1-rot"]\n`;
  const config = join(dir, 'slots.toml');
  writeFileSync(config, toml);
  const lab = loadLabConfig(config, { stateDir: join(dir, 'state'), listen: { host: '127.0.0.1', port: 0 } });
  const bus: UsbDeviceInfo[] = [
    { ...SP, busNumber: 1, deviceAddress: 4, node: nodes.sp, sysfsName: '1-1' },
    { ...ROT, busNumber: 1, deviceAddress: 5, node: nodes.rot, sysfsName: '1-2' },
  ];
  const log = createLogger(process.stderr);
  log.level = 'warn';
  const agent = new Agent({ lab, log, hotplug: () => () => undefined, listUsb: () => Promise.resolve(bus) });
  running.agent = agent;
  await agent.start();
  const url = `http://127.0.0.1:${agent.port ?? 0}`;
  await waitHealthy(url, 'gimlet-1');

  const input = join(dir, 'input');
  mkdirSync(join(input, 'build'), { recursive: true });
  writeFileSync(join(input, 'build', 'gimlet-c.zip'), 'PK hubris archive of this pipeline\n');
  const api = async (
    method: string,
    path: string,
    body?: RequestInit['body'],
    contentType = 'application/json',
  ): Promise<{ status: number; json: Record<string, unknown> }> => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${SUBMITTER}`, 'content-type': contentType },
      body,
      signal: AbortSignal.timeout(30_000),
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  };
  const cli = (args: readonly string[]): ReturnType<typeof runCli> =>
    runCli(args, {
      env: { LABSLOT_URL: url, LABSLOT_TOKEN: SUBMITTER, LABSLOT_CONFIG: '/nonexistent/slots.toml' },
      timeoutMs: 60_000,
    });
  return { dir, url, input, rotArchive, api, cli };
}

/** The file the job printed between its markers. */
function printedFile(output: string): string {
  const match = /^---humility\n([\s\S]*?)^---end$/m.exec(output);
  assert.ok(match, `no humility file in the output: ${output}`);
  return match[1] ?? '';
}

// As a job would use it: the archive humility would load for `-t sp`, read from the file itself.
const JOB = [
  'echo ---humility; cat "$HUMILITY_ENVIRONMENT"; echo ---end',
  'path=$(tr -d "\\n " < "$HUMILITY_ENVIRONMENT" | sed -n \'s/.*"sp":{"probe":"[^"]*","archive":"\\([^"]*\\)".*/\\1/p\')',
  'echo "sp-archive=$path"',
  '[ -n "$path" ] && echo "sp-archive-content=$(cat "$path")"',
  'true',
].join('\n');

describe('Hubris archives for HUMILITY_ENVIRONMENT', () => {
  it('puts the archive a job brings (--input DIR --archive sp=PATH) in its HUMILITY_ENVIRONMENT, where the job finds it at /input', async (t) => {
    if (!requires(t, ...NEEDS)) return;
    const lab = await archiveLab(t);
    const before = statSync(join(lab.dir, 'sp-probe'));

    const run = await lab.cli([
      'job',
      'run',
      '--target',
      'gimlet',
      '--input',
      lab.input,
      '--archive',
      'sp=./build/gimlet-c.zip',
      '--',
      'sh',
      '-c',
      JOB,
    ]);
    assert.equal(run.code, 0, `${run.stderr}\n${run.stdout}`);
    const text = printedFile(run.stdout);
    assert.deepEqual(humilityReads(text), { ok: true, targets: ['sp', 'rot'] }, 'humility takes the whole file');
    assert.deepEqual(humilityReads(text, 'sp'), {
      ok: true,
      probe: `1fc9:0143:${SP.serial}`,
      archive: '/input/build/gimlet-c.zip',
    });
    assert.deepEqual(
      humilityReads(text, 'rot', 'a'),
      { ok: true, probe: `1fc9:0143:${ROT.serial}`, archive: lab.rotArchive },
      'the configured archive, where the job brought none',
    );
    assert.match(run.stdout, /^sp-archive=\/input\/build\/gimlet-c\.zip$/m);
    assert.match(
      run.stdout,
      /^sp-archive-content=PK hubris archive of this pipeline$/m,
      'the path in the file opens inside the job',
    );
    assert.doesNotMatch(run.stdout, /HUMILITY_ENVIRONMENT has no/);

    const id = /job (\S+) queued/.exec(run.stderr)?.[1] ?? '';
    const job = (await lab.api('GET', `/v1/jobs/${id}`)).json;
    assert.deepEqual(job['archives'], { sp: 'build/gimlet-c.zip' }, "the job's view shows what it brought, normalized");
    const after = statSync(join(lab.dir, 'sp-probe'));
    assert.deepEqual(
      [after.uid, after.gid, after.mode],
      [before.uid, before.gid, before.mode],
      'the probe node is restored after the job',
    );
  });

  it("leaves out a probe with no archive, says so first in the job's output, and keeps the file readable for humility", async (t) => {
    if (!requires(t, ...NEEDS)) return;
    const lab = await archiveLab(t);
    const run = await lab.cli(['job', 'run', '--target', 'gimlet', '--', 'sh', '-c', JOB]);
    assert.equal(run.code, 0, `${run.stderr}\n${run.stdout}`);
    assert.equal(
      run.stdout.split('\n')[0],
      `labslot: HUMILITY_ENVIRONMENT has no "sp" entry (probe g1-sp, 1fc9:0143:${SP.serial}): humility refuses an entry without an archive, ` +
        'and none is configured ([devices.g1-sp] archive) or submitted (labslot job run --input DIR --archive sp=PATH)',
    );
    const text = printedFile(run.stdout);
    assert.deepEqual(humilityReads(text), { ok: true, targets: ['rot'] });
    assert.deepEqual(humilityReads(text, 'rot', 'a'), {
      ok: true,
      probe: `1fc9:0143:${ROT.serial}`,
      archive: lab.rotArchive,
    });
    assert.deepEqual(humilityReads(text, 'sp'), {
      ok: false,
      error: 'failed to match environment: invalid target "sp" (expected one of: rot)',
    });
  });

  it('refuses archives the input lacks or no probe takes, before a slot is used', async (t) => {
    if (!requires(t, ...NEEDS)) return;
    const lab = await archiveLab(t);

    // The client checks its own --input first: nothing reaches the agent.
    const missing = await lab.cli([
      'job',
      'submit',
      '--target',
      'gimlet',
      '--input',
      lab.input,
      '--archive',
      'sp=build/gimlet-d.zip',
      '--',
      'true',
    ]);
    assert.deepEqual([missing.code, missing.stdout], [2, ''], missing.stderr);
    assert.match(
      missing.stderr,
      /--archive "sp=build\/gimlet-d\.zip": build\/gimlet-d\.zip does not exist in --input /,
    );
    const unknown = await lab.cli([
      'job',
      'submit',
      '--target',
      'gimlet',
      '--input',
      lab.input,
      '--archive',
      'spp=build/gimlet-c.zip',
      '--',
      'true',
    ]);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(
      unknown.stderr,
      /archives\.spp: no slot of target "gimlet" has a probe named "spp" in HUMILITY_ENVIRONMENT \(its probes: rot, sp\)/,
    );
    assert.deepEqual((await lab.api('GET', '/v1/jobs')).json['jobs'], [], 'no job was queued');

    // Through the API alone, the upload is where the input is first known.
    const created = await lab.api(
      'POST',
      '/v1/jobs',
      JSON.stringify({
        target: 'gimlet',
        argv: ['true'],
        input: true,
        archives: { sp: 'build/gimlet-d.zip', rot: { a: 'build' } },
      }),
    );
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const id = created.json['id'] as string;
    const tarFile = join(lab.dir, 'input.tar');
    assert.equal(spawnSync('tar', ['-cf', tarFile, '-C', lab.input, 'build']).status, 0);
    const upload = await lab.api('PUT', `/v1/jobs/${id}/input`, readFileSync(tarFile), 'application/x-tar');
    assert.equal(upload.status, 400);
    assert.deepEqual(upload.json['error'], {
      code: 'bad_archive',
      message:
        'the input lacks the Hubris archives the job names: archives.sp: "build/gimlet-d.zip" is not in the input; archives.rot.a: "build" is a directory, not an archive file',
    });
    const job = (await lab.api('GET', `/v1/jobs/${id}`)).json;
    assert.deepEqual(
      [job['state'], job['input'], job['slot']],
      ['queued', 'awaiting', null],
      'the job waits for a good upload and took no slot',
    );
    assert.equal(
      (
        await fetch(`${lab.url}/v1/jobs/${id}/cancel`, {
          method: 'POST',
          headers: { authorization: `Bearer ${OPERATOR}` },
        })
      ).status,
      200,
    );
  });
});
