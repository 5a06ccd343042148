// A job's secrets stay the job's: the values of its environment and its worker
// token appear in no process's argv (which `ps` shows every user), and the
// files of its worker (environment, script, humility file) are readable by
// its own group only.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { jobLab } from './helpers/job-lab.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';

describe('job secrets', () => {
  it("are in no process's argv, as nobody sees it with ps, and the worker's files are its group's only", async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']), command('bwrap', ['--version']), command('ps', ['--version'])))
      return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }]);
    const secret = `s3cr3t-${randomBytes(8).toString('hex')}`;
    const id = await lab.submit({
      target: 'tb',
      env: { SECRET_API_KEY: secret },
      script: 'echo "token=$LABSLOT_TOKEN secret=$SECRET_API_KEY gid=$(id -g)"\nsleep 1000',
    });
    const [, token = '', , gidText = ''] = await lab.waitOutput(id, /token=(lsw_\S+) secret=(\S+) gid=(\d+)/);
    assert.match(await lab.output(id), new RegExp(`secret=${secret}`), 'the job has its environment');

    const seenByNobody = execFileSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', 'ps', '-eo', 'args'],
      { encoding: 'utf8' },
    );
    assert.ok(seenByNobody.includes('sleep 1000'), 'ps as nobody sees the job itself');
    assert.ok(!seenByNobody.includes(secret), 'no argv holds the secret');
    assert.ok(!seenByNobody.includes(token), 'no argv holds the worker token');

    const job = await lab.job(id);
    const root = join(lab.stateDir, 'workers', job.worker_id ?? 'none');
    const gid = Number(gidText);
    for (const [path, mode] of [
      [root, '750'],
      [join(root, 'environment'), '640'],
      [join(root, 'humility-environment.json'), '640'],
      [join(root, 'job.sh'), '640'],
    ] as const) {
      const info = statSync(path);
      assert.deepEqual(
        { path, uid: info.uid, gid: info.gid, mode: (info.mode & 0o777).toString(8) },
        { path, uid: 0, gid, mode },
      );
    }
    assert.equal((await lab.post(`/v1/jobs/${id}/cancel`, {})).status, 200);
    await lab.waitDone(id);
  });
});
