// What the agent's own process hands its jobs: nothing it inherited. An agent
// started with a root-only file open on descriptor 50 (a shell's `50<file`, a
// service manager's leftover) runs a job that tries to read it; and an agent
// started under a low soft limit on open files raises it to the hard limit.
import assert from 'node:assert/strict';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileLimit } from '../src/platform/process-hygiene.js';
import { jobLab } from './helpers/job-lab.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';
import { tempDir } from './helpers/temp-dir.js';

describe('the agent process', () => {
  it('closes descriptors it inherited, so a job cannot read a root-only file through one', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']), command('bwrap', ['--version']))) return;
    const secret = join(tempDir(t), 'secret');
    writeFileSync(secret, 'root-only-secret-4711\n', { mode: 0o600 });
    const fd = openSync(secret, 'r');
    t.after(() => closeSync(fd));
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }], '', 'stop_grace = "1s"', {
      inheritFd: { fd: 50, from: fd },
    });
    const id = await lab.submit({
      target: 'tb',
      script: 'ls /proc/self/fd | tr "\\n" " "; echo; cat /proc/self/fd/50 2>/dev/null || echo "no fd 50"',
    });
    const job = await lab.waitDone(id);
    const output = await lab.output(id);
    assert.doesNotMatch(output, /root-only-secret/, output);
    assert.match(output, /no fd 50/, output);
    // ls's own directory descriptor aside, the job has its three standard streams and nothing else.
    assert.deepEqual(
      output
        .split('\n')[0]
        ?.trim()
        .split(' ')
        .filter((n) => Number(n) > 3),
      [],
      output,
    );
    assert.equal(job.state, 'succeeded', JSON.stringify(job));
    assert.ok(
      lab.agent.logs.some(
        (l) => l['msg'] === 'closed inherited file descriptors' && JSON.stringify(l['fds']).includes('50'),
      ),
      'the agent says what it closed',
    );
  });

  it('raises its soft limit on open files to the hard limit', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']), command('prlimit', ['--version']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }], '', 'stop_grace = "1s"', {
      wrapper: ['prlimit', '--nofile=256:8192', '--'],
    });
    const pid = lab.agent.child.pid ?? -1;
    // prlimit execs the agent: same pid.
    assert.deepEqual(fileLimit(pid), { soft: 8192, hard: 8192 });
  });
});
