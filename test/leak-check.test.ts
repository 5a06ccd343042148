// The check every agent a test starts gets once it has stopped
// (helpers/leak-check.ts, wired into startAgent's teardown): a leftover of its
// own fails the teardown and is named; another agent's is not its business.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { DATABASE_FILE } from '../src/db/open-database.js';
import { agentScope } from '../src/platform/agent-scope.js';
import { WorkerCgroups } from '../src/platform/linux/cgroups.js';
import { startAgent } from './helpers/agent-process.js';
import { lifo, type Cleanup } from './helpers/cleanup.js';
import { PROJECT_ROOT } from './helpers/cli.js';
import { AGENT_MARK_ENV, assertNoLeaks, LeakError, leaksOf } from './helpers/leak-check.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';
import { tempDir } from './helpers/temp-dir.js';

const EXAMPLE = join(PROJECT_ROOT, 'slots.example.toml');

describe('leak check after an agent stops', () => {
  it("fails the teardown naming a cgroup and a process the agent left, and not another agent's cgroup", async (t) => {
    if (!requires(t, ROOT)) return;
    const stateDir = join(tempDir(t), 'state');
    // The agent's teardown goes here instead of on `t`, so this test can run it and see it fail.
    const hooks: (() => unknown)[] = [];
    const teardown: Cleanup = { after: (fn) => void hooks.push(fn) };
    const agent = await startAgent(teardown, { config: EXAMPLE, stateDir });

    // A worker cgroup under the agent's scope, as a cleanup that stopped halfway would leave it.
    const ours = new WorkerCgroups(agentScope(stateDir));
    await ours.create('wleakcheck', {});
    // Its empty scope too: the agent, already stopped, will not remove it.
    lifo(t).after(async () => {
      await ours.remove('wleakcheck');
      await ours.removeScope();
    });
    // Another agent's (another state directory, so another scope) on the same host.
    const theirs = new WorkerCgroups(agentScope(join(stateDir, 'another-agent')));
    await theirs.create('wtheirs', {});
    lifo(t).after(async () => {
      await theirs.remove('wtheirs');
      await theirs.removeScope();
    });
    // A process with the agent's mark, as a check program the agent forgot would be.
    const stray = spawn('sleep', ['60'], { env: { ...process.env, [AGENT_MARK_ENV]: agent.mark }, stdio: 'ignore' });
    lifo(t).after(() => stray.kill('SIGKILL'));

    const failed = await Promise.resolve()
      .then(async () => {
        for (const hook of hooks) await hook();
      })
      .then(
        () => undefined,
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      );
    assert.ok(failed !== undefined, 'the teardown passed with a cgroup and a process left behind');
    assert.equal(agent.child.exitCode, 0, 'the teardown stopped the agent first');
    assert.match(failed, new RegExp(`cgroup labslot/${agentScope(stateDir)}/wleakcheck\\b`));
    assert.match(failed, new RegExp(`process ${stray.pid ?? '?'} \\(sleep 60\\) started by the agent`));
    assert.doesNotMatch(failed, /wtheirs/);
    assert.doesNotMatch(failed, /user ls-/, 'the agent made no worker');

    // Cleaned up, the same check finds nothing: it is not a check that always fails.
    stray.kill('SIGKILL');
    await new Promise((resolve) => stray.once('exit', resolve));
    await ours.remove('wleakcheck');
    assert.deepEqual(leaksOf({ stateDir, mark: agent.mark, descendants: [] }), []);
  });

  it('names a worker user and group its database recorded that are still there, and not an ls-* user it never made', async (t) => {
    if (!requires(t, ROOT, command('useradd', ['--help']))) return;
    const stateDir = join(tempDir(t), 'state');
    await startAgent(t, { config: EXAMPLE, stateDir });
    // Two ls-* users as a worker's would be; only the first is on this agent's record.
    const suffix = randomBytes(3).toString('hex');
    const [ours, theirs] = [`ls-leak${suffix}`, `ls-other${suffix}`];
    for (const name of [ours, theirs]) {
      assert.equal(
        spawnSync('useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', name]).status,
        0,
        `useradd ${name}`,
      );
      lifo(t).after(() => spawnSync('userdel', [name]));
    }
    const uid = Number(spawnSync('id', ['-u', ours], { encoding: 'utf8' }).stdout);
    const db = new Database(join(stateDir, DATABASE_FILE));
    try {
      // A worker row as worker setup writes it, without the job it would belong to.
      db.pragma('foreign_keys = OFF');
      db.prepare(
        'INSERT INTO workers (id, job_id, slot, username, uid, gid, token_hash, root_dir) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ).run(`w${ours.slice(3)}`, 'jleakcheck', 'gimlet-1', ours, uid, uid, 'x', join(stateDir, 'workers'));
    } finally {
      db.close();
    }

    await assert.rejects(assertNoLeaks({ stateDir }), (error: unknown) => {
      assert.ok(error instanceof LeakError);
      assert.deepEqual(error.leaks, [`user ${ours} (uid ${uid})`, `group ${ours}`]);
      return true;
    });
    assert.equal(spawnSync('userdel', [ours]).status, 0);
    assert.deepEqual(leaksOf({ stateDir }), []);
  });
});
