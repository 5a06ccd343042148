// Command checks as an unprivileged user: the user's supplementary groups are
// really applied (initgroups), and privileges are dropped.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { checkCommand } from '../src/devices/command-check.js';
import { runCheck } from '../src/devices/run-check.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';

const noPlaceholders = (): Promise<{ missing: string }> => Promise.resolve({ missing: 'none in this test' });

describe('command checks as a user', () => {
  it("runs with the user's supplementary groups and no privileges", async (t) => {
    if (!requires(t, ROOT, command('useradd', ['--help']), command('setpriv', ['--version']))) return;
    const suffix = randomBytes(3).toString('hex');
    const group = `lsg${suffix}`;
    const user = `lsu${suffix}`;
    execFileSync('groupadd', [group]);
    t.after(() => execFileSync('groupdel', [group]));
    execFileSync('useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', '--groups', group, user]);
    t.after(() => execFileSync('userdel', [user]));

    const result = await runCheck(5_000, new AbortController().signal, (signal) =>
      checkCommand(
        { argv: ['sh', '-c', 'id -nG; grep ^CapEff /proc/self/status; grep ^NoNewPrivs /proc/self/status'], user },
        { mode: 'active', signal, timeoutMs: 5_000 },
        noPlaceholders,
      ),
    );
    assert.equal(result.ok, true, `${result.reason}: ${result.detail ?? ''}`);
    const [groups, caps, nnp] = (result.detail ?? '').split('\n');
    assert.ok(groups?.split(' ').includes(group), `groups were: ${groups ?? ''}`);
    assert.match(caps ?? '', /CapEff:\s+0+$/);
    assert.match(nnp ?? '', /NoNewPrivs:\s+1$/);
  });

  it('fails clearly for a user that does not exist', async () => {
    const result = await runCheck(5_000, new AbortController().signal, (signal) =>
      checkCommand(
        { argv: ['true'], user: 'ls-no-such-user' },
        { mode: 'active', signal, timeoutMs: 5_000 },
        noPlaceholders,
      ),
    );
    assert.equal(result.ok, false);
    assert.equal(result.reason, 'command check user "ls-no-such-user" does not exist');
  });

  it('reports a timeout with the output so far', async () => {
    const result = await runCheck(400, new AbortController().signal, (signal) =>
      checkCommand(
        { argv: ['sh', '-c', 'echo attaching probe; sleep 10'] },
        { mode: 'active', signal, timeoutMs: 400 },
        noPlaceholders,
      ),
    );
    assert.equal(result.ok, false);
    assert.match(result.reason, /timed out after 400 ms/);
    assert.equal(result.detail, 'attaching probe');
  });
});
