// Scaffolding for the lab-of-hosts tests (helpers/lab-hosts.ts): several
// agents on one machine, each its own host of one lab sharing a real
// PostgreSQL database. The lab's own behaviour is tested on top of this.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { startLabHosts } from './helpers/lab-hosts.js';
import { labDatabase, POSTGRES_CLUSTER } from './helpers/postgres.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';

describe('lab hosts scaffolding', () => {
  it('starts two hosts on one database, each answering under its own name', async (t) => {
    if (!requires(t, ROOT, POSTGRES_CLUSTER, command('socat', ['-V']))) return;
    const database = await labDatabase(t);
    const lab = await startLabHosts(t, {
      database,
      hosts: [
        { name: 'lab-host-1', slots: [{ name: 'gimlet-1', target: 'gimlet' }] },
        {
          name: 'lab-host-2',
          slots: [
            { name: 'gimlet-2', target: 'gimlet' },
            { name: 'sidecar-1', target: 'sidecar' },
          ],
        },
      ],
    });

    assert.equal(lab.hosts.length, 2);
    const [one, two] = lab.hosts;
    assert.ok(one !== undefined && two !== undefined);
    assert.notEqual(one.url, two.url);
    assert.notEqual(one.stateDir, two.stateDir);
    for (const host of lab.hosts) {
      const response = await fetch(`${host.url}/healthz`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(response.status, 200);
      const body = (await response.json()) as { status: string; agent: string };
      assert.deepEqual({ status: body.status, agent: body.agent }, { status: 'ok', agent: host.name });
      // Every host is pointed at the same database, by URL and password file, the password itself not in the config.
      const lines = readFileSync(host.config, 'utf8').split('\n');
      assert.ok(lines.includes(`database = "${database.url}"`), lines.join('\n'));
      assert.ok(lines.includes(`database_file = "${database.passwordFile}"`), lines.join('\n'));
      assert.ok(!lines.some((line) => line.includes(database.password)));
    }
    assert.deepEqual([...two.consoles.keys()], ['gimlet-2', 'sidecar-1']);
    assert.equal(lab.host('lab-host-2'), two);

    // A host that loses power, and comes back on its own state: the other answers throughout.
    const before = one.url;
    await one.kill9();
    await assert.rejects(fetch(`${before}/healthz`, { signal: AbortSignal.timeout(10_000) }));
    assert.equal((await fetch(`${two.url}/healthz`, { signal: AbortSignal.timeout(10_000) })).status, 200);
    await one.restart();
    const again = (await (await fetch(`${one.url}/healthz`, { signal: AbortSignal.timeout(10_000) })).json()) as {
      agent: string;
    };
    assert.equal(again.agent, 'lab-host-1');
  });
});
