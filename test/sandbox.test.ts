// Escape attempts from inside a job (DESIGN §3.4), each one asserted to fail:
// writing outside its own directories, seeing or signalling another job,
// another slot's device, setuid-root, real-time scheduling (the agent may use
// it for its account tools), outliving the job, a fork bomb, a memory hog; and four concurrent sandboxes leave the host's mount table as it was.
import assert from 'node:assert/strict';
import { copyFileSync, chmodSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { processesOf } from '../src/platform/user-processes.js';
import { jobLab } from './helpers/job-lab.js';
import { mountTable } from './helpers/mount-table.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';

const NEEDS = [ROOT, command('socat', ['-V']), command('bwrap', ['--version'])];

describe('sandbox', () => {
  it('lets a job write only its own directories', async (t) => {
    if (!requires(t, ...NEEDS)) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }]);
    const script = [
      'for f in /etc/labslot-escape /usr/labslot-escape /labslot-escape /var/lib/labslot-escape "$HUMILITY_ENVIRONMENT"; do',
      '  (echo x > "$f") 2>/dev/null && echo "WROTE $f" || echo "refused $f"',
      'done',
      'for d in "$HOME" /work /tmp /var/tmp; do echo x > "$d/ok" && echo "wrote $d"; done',
      // Only what the job wrote: mount points for paths the host keeps under /tmp (this test's state
      // directory, a checkout in /tmp) are root's, and are not counted.
      'find /tmp -mindepth 1 -maxdepth 1 -user "$(id -u)" | wc -l | sed "s/^/tmp-entries=/"',
    ].join('\n');
    const id = await lab.submit({ target: 'tb', script });
    assert.equal((await lab.waitDone(id)).state, 'succeeded');
    const out = await lab.output(id);
    assert.doesNotMatch(out, /WROTE/, out);
    assert.equal((out.match(/^refused /gm) ?? []).length, 5, out);
    assert.equal((out.match(/^wrote /gm) ?? []).length, 4, out);
    assert.match(out, /^tmp-entries=1$/m, 'a fresh /tmp with only what the job wrote');
  });

  it("hides other jobs and other slots' devices, ignores setuid-root and refuses real-time priority", async (t) => {
    if (!requires(t, ...NEEDS)) return;
    const lab = await jobLab(t, [
      { name: 's1', target: 'a' },
      { name: 's2', target: 'b' },
    ]);
    // A setuid-root program the job can reach: no_new_privs and nosuid must both keep it the worker's.
    const dir = mkdtempSync('/opt/labslot-suid-');
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    chmodSync(dir, 0o755);
    copyFileSync('/usr/bin/id', `${dir}/id`);
    chmodSync(`${dir}/id`, 0o4755);

    const victim = await lab.submit({ target: 'a', script: 'echo "victim uid=$(id -u)"; sleep 1000' });
    const [, victimUid = ''] = await lab.waitOutput(victim, /victim uid=(\d+)/);
    const [victimPid] = processesOf(Number(victimUid));
    assert.ok(victimPid !== undefined);
    const other = realpathSync(lab.consoles.get('s1')?.device ?? '');
    const script = [
      `ls /proc | grep -c '^[0-9]' | sed 's/^/visible-processes=/'`,
      `kill -9 ${victimPid} 2>/dev/null && echo "KILLED victim" || echo "cannot signal victim"`,
      `[ -e ${other} ] && echo "SEES other console" || echo "no other console"`,
      `ls /dev/labslot`,
      `echo "euid=$(${dir}/id -u)"`,
      // The agent's spawner has CAP_SYS_NICE for useradd and userdel; nothing of it reaches a job.
      'echo "policy=$(cut -d" " -f41 /proc/$$/stat)"',
      'why=$(chrt -f 1 true 2>&1) && echo "GOT real-time" || echo "real-time refused: $why"',
    ].join('\n');
    const attacker = await lab.submit({ target: 'b', script });
    assert.equal((await lab.waitDone(attacker)).state, 'succeeded');
    const out = await lab.output(attacker);
    const visible = Number(/visible-processes=(\d+)/.exec(out)?.[1]);
    assert.ok(visible > 0 && visible < 8, `a PID namespace of its own: ${visible} processes visible`);
    assert.match(out, /^cannot signal victim$/m);
    assert.match(out, /^no other console$/m);
    assert.match(out, /^s2-con$/m, 'its own console only');
    assert.doesNotMatch(out, /euid=0$/m, out);
    assert.match(out, /^policy=0$/m, 'the job runs at normal priority');
    assert.match(out, /^real-time refused: .*Operation not permitted$/m, out);
    assert.equal((await lab.job(victim)).state, 'running', 'the victim is untouched');
    await lab.post(`/v1/jobs/${victim}/cancel`, {});
    await lab.waitDone(victim);
  });

  it('kills what a job double-forked or setsid-ed away, with its cgroup', async (t) => {
    if (!requires(t, ...NEEDS, command('setsid', ['--version']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }]);
    const script = "echo uid=$(id -u)\nsetsid sh -c 'sleep 1000' &\n(sh -c 'sleep 1000 &' &)\nsleep 0.2\nexit 0";
    const id = await lab.submit({ target: 'tb', script });
    const [, uid = ''] = await lab.waitOutput(id, /uid=(\d+)/);
    const job = await lab.waitDone(id);
    assert.equal(job.state, 'succeeded');
    assert.deepEqual(processesOf(Number(uid)), []);
    assert.deepEqual(lab.cgroups(), [], 'the worker cgroup is removed');
  });

  it('stops a fork bomb at the pids limit and a memory hog at the memory limit, and says so', async (t) => {
    if (!requires(t, ...NEEDS, command('python3', ['--version']))) return;
    const lab = await jobLab(t, [
      { name: 'bomb', target: 'bomb', extra: '[slots.bomb.limits]\npids = 64' },
      { name: 'hog', target: 'hog', extra: '[slots.hog.limits]\nmemory = "64MiB"' },
    ]);
    const bomb = await lab.submit({ target: 'bomb', script: 'b() { b | b & }; b; sleep 5', timeout: '4s' });
    const hog = await lab.submit({
      target: 'hog',
      argv: ['python3', '-c', 'x = []\nwhile True: x.append(bytearray(16 * 1024 * 1024))'],
    });
    const [bombJob, hogJob] = [await lab.waitDone(bomb, 30_000), await lab.waitDone(hog, 30_000)];
    assert.equal(bombJob.ended_by, 'limit');
    assert.match(bombJob.end_reason ?? '', /^process limit of 64 reached: \d+ forks failed$/);
    assert.equal(hogJob.ended_by, 'limit');
    assert.equal(hogJob.end_reason, 'memory limit of 64MiB reached: the kernel killed the job (out of memory)');
    // The host is fine: the agent answers and nothing of either job is left.
    assert.equal((await fetch(`${lab.agent.url}/healthz`)).status, 200);
    assert.deepEqual(lab.cgroups(), []);
  });

  it('gives each job its own /dev/shm of limits.shm: multiprocessing works, and writing past the size fails', async (t) => {
    if (!requires(t, ...NEEDS, command('python3', ['--version']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb', extra: '[slots.s1.limits]\nshm = "1MiB"' }]);
    const script = [
      'python3 -c "import multiprocessing; multiprocessing.Lock(); print(\'lock ok\')"',
      'dd if=/dev/zero of=/dev/shm/fill bs=64k count=32 2>&1',
      'echo "shm written: $(stat -c %s /dev/shm/fill)"',
    ].join('\n');
    const id = await lab.submit({ target: 'tb', script });
    const job = await lab.waitDone(id);
    const output = await lab.output(id);
    assert.match(output, /^lock ok$/m, output);
    assert.match(output, /No space left on device/, output);
    assert.match(output, /^shm written: 1048576$/m, `capped at 1 MiB: ${output}`);
    assert.equal(job.state, 'succeeded', JSON.stringify(job));
  });

  it('leaves the host mount table as it was, with four sandboxes at once', async (t) => {
    if (!requires(t, ...NEEDS)) return;
    const lab = await jobLab(
      t,
      ['s1', 's2', 's3', 's4'].map((name) => ({ name, target: 'tb' })),
    );
    const before = mountTable(lab.stateDir);
    const ids = await Promise.all(
      Array.from({ length: 4 }, () => lab.submit({ target: 'tb', script: 'echo running; sleep 1' })),
    );
    for (const id of ids) await lab.waitOutput(id, /running/);
    // The agent's own mounts, one per worker ([jobs] limits.disk), are the host's by design; nothing else may be.
    const disk = /^\S+ \S+ \S+ \S+ (\S+)$/;
    const workerDisks = (table: string[]): string[] =>
      table.filter((line) => (disk.exec(line)?.[1] ?? '').startsWith(`${lab.stateDir}/workers/`));
    const during = mountTable(lab.stateDir);
    const jobDisks = new Set<string>();
    for (const id of ids) {
      const job = await lab.waitDone(id);
      assert.equal(job.state, 'succeeded');
      jobDisks.add(`${lab.stateDir}/workers/${job.worker_id ?? ''}/disk`);
    }
    const disks = workerDisks(during).map((line) => disk.exec(line)?.[1] ?? '');
    assert.equal(disks.length, new Set(disks).size, 'one disk per worker');
    for (const jobDisk of jobDisks) assert.ok(disks.includes(jobDisk), `each job had its own disk: ${jobDisk}`);
    // Besides them, at most one per slot: its next worker, made while its job ran ([jobs] prepare_ahead).
    assert.ok(disks.length <= 8, `no more than one worker made ahead per slot: ${disks.join(', ')}`);
    assert.deepEqual(
      during.filter((line) => !workerDisks(during).includes(line)),
      before,
      'no sandbox mount reached the host',
    );
    // Workers made ahead keep their disks until they are taken, expire or the agent stops.
    await lab.agent.stop();
    assert.deepEqual(mountTable(lab.stateDir), before);
  });
});
