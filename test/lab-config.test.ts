// Joining a lab, and not joining one (DESIGN §7, issue 15): an agent without
// [lab] is a host alone beside a lab and nothing of either leaks into the
// other; a [lab] database URL that cannot be right is a configuration error
// (exit 2, the key named) for `config validate` and `agent` alike; a database
// that is not there yet is not: the agent starts, says why it has no lab and
// retries, and joins once the database is there (a lab's hosts and its
// database may boot in any order).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { JobView } from './helpers/api-types.js';
import { runCli } from './helpers/cli.js';
import { eventually } from './helpers/eventually.js';
import { apiRequest } from './helpers/job-api.js';
import { agentToml, jobLab } from './helpers/job-lab.js';
import { startLabHosts } from './helpers/lab-hosts.js';
import { healthz, hostList, slotList } from './helpers/lab-views.js';
import { labDatabase, POSTGRES_CLUSTER, POSTGRES_SERVER, privatePostgres } from './helpers/postgres.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';
import { tempDir } from './helpers/temp-dir.js';

const TOOLS = [command('socat', ['-V']), command('bwrap', ['--version'])];

describe('an agent and the lab it joins, or not', () => {
  it('a fourth agent with no [lab] is unaffected: its slots and jobs are its own, and the lab does not list it', async (t) => {
    if (!requires(t, ROOT, POSTGRES_CLUSTER, ...TOOLS)) return;
    const database = await labDatabase(t);
    const lab = await startLabHosts(t, {
      database,
      hosts: ['a', 'b', 'c'].map((h) => ({ name: `lab-${h}`, slots: [{ name: `c${h}-1`, target: 'gimlet' }] })),
    });
    // The same target name, on a host that is no member.
    const alone = await jobLab(t, [{ name: 'solo-1', target: 'gimlet' }]);
    const a = lab.host('lab-a');

    const hosts = await hostList(a.url);
    assert.deepEqual(
      hosts.hosts.map((h) => h.name),
      ['lab-a', 'lab-b', 'lab-c'],
    );
    const own = await hostList(alone.agent.url);
    assert.equal(own.lab, false);
    assert.deepEqual(
      own.hosts.map((h) => [h.name, h.slots]),
      [['job-lab', ['solo-1']]],
    );
    const soloSlots = await slotList(alone.agent.url);
    assert.deepEqual(
      soloSlots.slots.map((s) => s.name),
      ['solo-1'],
    );
    assert.equal(soloSlots.lab, undefined, 'a host alone has no lab link to report');
    assert.equal((await healthz(alone.agent.url))['lab'], undefined);
    assert.ok(!(await slotList(a.url)).slots.some((s) => s.name === 'solo-1'));

    // Jobs for gimlet through the lab never reach it; its own run on its own slot, unknown to the lab.
    const labJobs = await Promise.all(lab.hosts.map((h) => lab.submit(h.url, { target: 'gimlet', argv: ['true'] })));
    const soloJob = await alone.submit({ target: 'gimlet', script: 'echo "alone on $LABSLOT_SLOT"' });
    assert.equal((await alone.waitDone(soloJob, 30_000)).state, 'succeeded');
    assert.equal(await alone.output(soloJob), 'alone on solo-1\n');
    for (const id of labJobs) {
      const done = await lab.waitDone(a.url, id, 30_000);
      assert.equal(done.state, 'succeeded');
      assert.notEqual(done.slot, 'solo-1');
    }
    assert.equal((await apiRequest(a.url, 'GET', `/v1/jobs/${soloJob}`)).status, 404);
    assert.equal((await apiRequest(alone.agent.url, 'GET', `/v1/jobs/${labJobs[0] ?? ''}`)).status, 404);
    const soloList = (await apiRequest(alone.agent.url, 'GET', '/v1/jobs?limit=100')).json['jobs'] as JobView[];
    assert.deepEqual(
      soloList.map((j) => j.id),
      [soloJob],
    );
    assert.equal(soloList[0]?.host, undefined, 'a host alone shows no host field');
    assert.ok((await alone.events()).every((e) => e.host === undefined && e.job_id !== labJobs[0]));
  });

  it('a database URL that cannot be right is a configuration error, exit 2 with the key named', async (t) => {
    const dir = tempDir(t);
    const slots = '[devices.con]\nkind = "serial"\npath = "/dev/null"\n[slots.s1]\ntarget = "t"\ndevices = ["con"]\n';
    const cases = [
      { url: 'mysql://x', says: /lab\.database: must be a postgres:\/\/ URL/ },
      { url: 'postgres://labslot:hunter2@127.0.0.1/lab', says: /lab\.database: holds a password/ },
    ];
    for (const [n, { url, says }] of cases.entries()) {
      const file = join(dir, `bad-${n}.toml`);
      writeFileSync(file, `${agentToml('bad')}[lab]\ndatabase = ${JSON.stringify(url)}\n${slots}`);
      const validate = await runCli(['config', 'validate', '-c', file]);
      const agent = await runCli([
        'agent',
        '-c',
        file,
        '--state-dir',
        join(dir, `state-${n}`),
        '--listen',
        '127.0.0.1:0',
      ]);
      for (const [what, result] of [
        ['config validate', validate],
        ['agent', agent],
      ] as const) {
        assert.equal(result.code, 2, `${what} ${url}: ${result.stderr}`);
        assert.match(result.stderr, new RegExp(`^${file.replace(/[.]/g, '\\.')}:\\d+: `, 'm'), what);
        assert.match(result.stderr, says, what);
        assert.ok(!result.stderr.includes('hunter2'), `${what} does not repeat the password`);
      }
    }
  });

  it('a database not there at start: the agent starts, says why and retries, and joins once it is there', async (t) => {
    if (!requires(t, ROOT, POSTGRES_SERVER, ...TOOLS)) return;
    const pg = await privatePostgres(t);
    await pg.stop(); // Nothing listens on its port now.
    const lab = await startLabHosts(t, {
      database: pg,
      hosts: [{ name: 'lab-a', slots: [{ name: 'ua-1', target: 'gimlet' }] }],
    });
    const a = lab.host('lab-a');
    const said = await eventually(
      () => a.agent.logs.find((l) => l['msg'] === 'cannot reach the lab database; retrying') ?? false,
      { timeoutMs: 10_000, message: () => `the log to say the lab database is out of reach: ${a.agent.stderr()}` },
    );
    assert.match(String(said['problem']), /connection refused/);
    const slots = await slotList(a.url);
    assert.equal(slots.lab?.connected, false);
    assert.match(slots.lab.problem ?? '', /connection refused/);
    assert.deepEqual(
      slots.slots.map((s) => s.name),
      ['ua-1'],
      'its own slots are shown meanwhile',
    );
    const health = (await healthz(a.url))['lab'] as { connected: boolean; problem: string | null };
    assert.equal(health.connected, false);
    assert.match(health.problem ?? '', /connection refused/);

    await pg.start();
    await eventually(async () => (await slotList(a.url)).lab?.connected === true, {
      timeoutMs: 20_000,
      message: 'the agent to join the lab once its database is there',
    });
    assert.deepEqual((await healthz(a.url))['lab'], { connected: true, problem: null });
    const hosts = await hostList(a.url);
    assert.deepEqual(
      hosts.hosts.map((h) => [h.name, h.online]),
      [['lab-a', true]],
    );
    const id = await lab.submit(a.url, { target: 'gimlet', script: 'echo "joined on $LABSLOT_SLOT"' });
    assert.equal((await lab.waitDone(a.url, id, 30_000)).state, 'succeeded');
    assert.equal(await lab.output(a.url, id), 'joined on ua-1\n');
    assert.ok(a.agent.logs.some((l) => l['msg'] === 'linked to the lab database'));
  });
});
