// Workers as a job sees them: a real ephemeral user whose supplementary groups
// are applied, that can open its own slot's console and nothing else, with the
// environment of DESIGN §3; and nothing of it left once the job is over.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { SlotDetailView } from './helpers/api-types.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';
import { jobLab, ownership } from './helpers/job-lab.js';

describe('workers', () => {
  it('runs the job as a fresh user with initgroups, its own console granted and the other refused', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']), command('setpriv', ['--version']))) return;
    const lab = await jobLab(t, [
      { name: 'gimlet-1', target: 'gimlet', extra: 'add_to_groups = ["dialout", "plugdev"]\nenv = { RACK = "A3" }' },
      { name: 'gimlet-2', target: 'gimlet', extra: 'conflicts_with_slots = ["gimlet-1"]' },
    ]);
    const own = realpathSync(lab.consoles.get('gimlet-1')?.device ?? '');
    const other = realpathSync(lab.consoles.get('gimlet-2')?.device ?? '');
    const before = { own: ownership(own), other: ownership(other) };

    const script = [
      'echo "user=$(id -un) uid=$(id -u) groups=$(id -Gn)"',
      'echo "console=$LABSLOT_DEVICE_GIMLET_1_CON"',
      `echo probe > "$LABSLOT_DEVICE_GIMLET_1_CON" && echo "own=ok"`,
      `(echo probe > ${other}) 2>&1 | sed 's/^.*: //' | sed 's/^/other=/'`,
      'echo "slot=$LABSLOT_SLOT target=$LABSLOT_TARGET job=$LABSLOT_JOB worker=$LABSLOT_WORKER rack=$RACK"',
      'echo "token=${LABSLOT_TOKEN%%_*} home=$HOME pwd=$(pwd)"',
      'touch "$HOME/h" "$TMPDIR/t" ./w && echo writable=yes',
      'command -v labslot',
      'cat "$HUMILITY_ENVIRONMENT"',
      'exit 3',
    ].join('\n');
    const id = await lab.submit({ target: 'gimlet', script, env: { FROM_JOB: 'yes' } });
    const job = await lab.waitDone(id);
    const out = await lab.output(id);

    assert.equal(job.slot, 'gimlet-1', 'the first slot in name order takes the job');
    assert.equal(job.state, 'failed');
    assert.equal(job.exit_code, 3, out);
    assert.equal(job.end_reason, 'exit code 3');
    const user = /^user=(ls-\S+) uid=(\d+) groups=(.*)$/m.exec(out);
    assert.ok(user, out);
    const [, username = '', uid = '', groups = ''] = user;
    assert.ok(Number(uid) >= 2 ** 20 && Number(uid) < 2 ** 30, `uid ${uid} in the worker range`);
    assert.deepEqual(
      groups.split(' ').sort(),
      [username, 'dialout', 'plugdev'].sort(),
      'supplementary groups applied by initgroups',
    );
    assert.match(
      out,
      /^console=\/dev\/labslot\/gimlet-1-con$/m,
      'a PTY shows up under /dev/labslot: the sandbox has its own /dev/pts',
    );
    assert.match(out, /^own=ok$/m);
    assert.match(out, /^other=Permission denied$/m);
    assert.match(out, new RegExp(`^slot=gimlet-1 target=gimlet job=${id} worker=${job.worker_id ?? ''} rack=A3$`, 'm'));
    assert.match(out, /^token=lsw home=\S+\/home pwd=\/work$/m);
    assert.match(out, /^writable=yes$/m);
    assert.match(out, /\/bin\/labslot$/m);
    assert.match(out, /^\{\}$/m, 'no probes in this slot: an empty humility environment');

    // Nothing of the worker is left: user, group, processes, files; the console is as it was.
    const passwd = readFileSync('/etc/passwd', 'utf8');
    assert.ok(!passwd.includes(`${username}:`), 'user deleted');
    assert.ok(!readFileSync('/etc/group', 'utf8').includes(`${username}:`), 'group deleted');
    assert.deepEqual({ own: ownership(own), other: ownership(other) }, before, 'device nodes restored');
    assert.equal(existsSync(`${lab.stateDir}/workers/${job.worker_id ?? ''}`), false, 'worker directory removed');

    const slot = (await (await fetch(`${lab.agent.url}/v1/slots/gimlet-1`)).json()) as SlotDetailView;
    assert.deepEqual({ usage: slot.usage, lease: slot.lease }, { usage: 'idle', lease: null });
    const types = (await lab.events(`&slot=gimlet-1`)).filter((e) => e.job_id === id).map((e) => e.type);
    assert.deepEqual(types, ['slot.leased', 'job.started', 'job.ended', 'slot.idle']);
  });

  it('refuses bad submissions with a 4xx that says what is wrong', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'gimlet' }]);
    const unknown = await lab.post('/v1/jobs', { target: 'psc', argv: ['true'] });
    assert.equal(unknown.status, 400);
    assert.deepEqual(unknown.json['error'], {
      code: 'unknown_target',
      message: 'no slot serves target "psc" on job-lab (targets: gimlet)',
    });
    const both = await lab.post('/v1/jobs', { target: 'gimlet', argv: ['true'], script: 'true' });
    assert.equal(both.status, 400);
    assert.match(JSON.stringify(both.json), /exactly one of \\"argv\\" and \\"script\\"/);
    const reserved = await lab.post('/v1/jobs', { target: 'gimlet', argv: ['true'], env: { LABSLOT_TOKEN: 'x' } });
    assert.equal(reserved.status, 400);
    assert.match(JSON.stringify(reserved.json), /env\.LABSLOT_TOKEN.*set by labslot itself/);
    // A root program (setpriv) runs before the job's own: a preload must never reach it.
    const preload = await lab.post('/v1/jobs', { target: 'gimlet', argv: ['true'], env: { LD_PRELOAD: '/tmp/x.so' } });
    assert.equal(preload.status, 400);
    assert.match(JSON.stringify(preload.json), /env\.LD_PRELOAD: changes how programs are loaded/);
    const nul = await lab.post('/v1/jobs', { target: 'gimlet', argv: ['echo', 'a\0b'] });
    assert.equal(nul.status, 400);
    assert.match(JSON.stringify(nul.json), /argv\[1\]: must not contain NUL/);
    const tooLong = await lab.post('/v1/jobs', { target: 'gimlet', argv: ['true'], timeout: '2h' });
    assert.equal(tooLong.status, 400);
    assert.deepEqual(tooLong.json['error'], {
      code: 'invalid_request',
      message: "timeout: 2h is over this host's limit of 1h ([jobs] timeout)",
    });
    const timeout = await lab.post('/v1/jobs', { target: 'gimlet', argv: ['true'], timeout: '10 min' });
    assert.equal(timeout.status, 400);
    const operator = await lab.post('/v1/jobs', { target: 'gimlet', argv: ['true'] }, 'job-lab-operator');
    assert.equal(operator.status, 403);
    const missing = await fetch(`${lab.agent.url}/v1/jobs/jnope`, {
      headers: { authorization: 'Bearer job-lab-submitter' },
    });
    assert.equal(missing.status, 404);
  });
});
