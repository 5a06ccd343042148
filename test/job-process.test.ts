// A job's first process as the Linux platform starts it (linux/job-process.ts),
// held to one contract through the agent's spawner and through Node's spawn
// with a head relay: stdout and stderr appended to the output file in the
// order written, a cap that cuts the output and fails the job's later writes,
// the sandbox's fd-3 report told apart from the output, and an exit code.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { StartedJob } from '../src/platform/platform.js';
import { type JobProcessOptions, throughSpawner, withNodeSpawn } from '../src/platform/linux/job-process.js';
import { SPAWNER_PATH, SpawnerStarter } from '../src/platform/spawner-client.js';
import { eventually } from './helpers/eventually.js';
import { type Prerequisite, requires } from './helpers/prerequisites.js';
import { tempDir } from './helpers/temp-dir.js';

const BUILT: Prerequisite = {
  what: `the native spawner ${SPAWNER_PATH} (npm run build, with a C compiler)`,
  met: () => existsSync(SPAWNER_PATH),
};
const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
const spawner = new SpawnerStarter(SPAWNER_PATH);

const WAYS: {
  name: string;
  start: (argv: string[], o: JobProcessOptions) => Promise<StartedJob>;
  needs: Prerequisite[];
}[] = [
  { name: 'the spawner', start: (argv, o) => throughSpawner(spawner, argv, o), needs: [BUILT] },
  { name: "Node's spawn and a head relay", start: withNodeSpawn, needs: [] },
];

for (const { name, start, needs } of WAYS) {
  describe(`a job's process, through ${name}`, () => {
    const ready = (t: TestContext): boolean => requires(t, ...needs);

    it('appends stdout and stderr to the output file in the order written, and reports the exit code', async (t) => {
      if (!ready(t)) return;
      const outputFile = join(tempDir(t), 'output');
      writeFileSync(outputFile, 'before\n');
      const job = await start(['sh', '-c', 'echo one; echo two >&2; echo three; exit 3'], { env: ENV, outputFile });
      assert.ok(job.pid > 0);
      const exit = await job.exited;
      assert.deepEqual([exit.code, exit.signal, exit.sandboxError], [3, null, undefined]);
      assert.equal(readFileSync(outputFile, 'utf8'), 'before\none\ntwo\nthree\n');
    });

    it("cuts the output at the cap, and the job's next write fails", async (t) => {
      if (!ready(t)) return;
      const outputFile = join(tempDir(t), 'output');
      // yes writes until its pipe closes: SIGPIPE ends it, and only the cap's bytes reach the file.
      const job = await start(['yes'], { env: ENV, outputFile, maxOutputBytes: 100_001 });
      const exit = await job.exited;
      assert.deepEqual([exit.code, exit.signal], [null, 'SIGPIPE']);
      assert.equal(readFileSync(outputFile, 'utf8'), 'y\n'.repeat(50_001).slice(0, 100_001));
    });

    it('keeps output up to the cap whole, after the job has exited', async (t) => {
      if (!ready(t)) return;
      const outputFile = join(tempDir(t), 'output');
      const job = await start(['sh', '-c', 'seq 1 20000'], { env: ENV, outputFile, maxOutputBytes: 1 << 20 });
      assert.deepEqual([(await job.exited).code], [0]);
      const expected = Array.from({ length: 20000 }, (_, i) => `${i + 1}\n`).join('');
      assert.equal(readFileSync(outputFile, 'utf8'), expected);
    });

    it("tells the sandbox's report on fd 3 apart from the job's output", async (t) => {
      if (!ready(t)) return;
      const outputFile = join(tempDir(t), 'output');
      const argv = ['sh', '-c', 'echo visible; echo "labslot-landlock: refused" >&3; exit 122'];
      const job = await start(argv, { env: ENV, outputFile, maxOutputBytes: 4096 });
      const exit = await job.exited;
      assert.deepEqual([exit.code, exit.sandboxError], [122, 'labslot-landlock: refused']);
      assert.equal(readFileSync(outputFile, 'utf8'), 'visible\n');
    });

    it('reports a program that cannot start', async (t) => {
      if (!ready(t)) return;
      const outputFile = join(tempDir(t), 'output');
      const job = await start(['/nonexistent/labslot-sandbox'], { env: ENV, outputFile });
      const exit = await job.exited;
      assert.match(exit.spawnError ?? '', /ENOENT/);
    });

    it('never hands the job its output file', async (t) => {
      if (!ready(t)) return;
      const outputFile = join(tempDir(t), 'output');
      const job = await start(['sleep', '30'], { env: ENV, outputFile, maxOutputBytes: 4096 });
      t.after(() => spawnSync('kill', ['-KILL', String(job.pid)]));
      const fd = `/proc/${job.pid}/fd`;
      const open = await eventually(() => {
        assert.match(readFileSync(`/proc/${job.pid}/cmdline`, 'utf8'), /^sleep\0/);
        return readdirSync(fd).map((n) => `${n} ${readlinkSync(`${fd}/${n}`)}`);
      });
      assert.deepEqual(
        open.filter((line) => line.endsWith(outputFile)),
        [],
        open.join('; '),
      );
      // The spawner closes everything else it was handed; Node's spawn passes on what the agent holds open.
      if (name === 'the spawner')
        assert.deepEqual(
          open.map((line) => line.split(' ')[0]),
          ['0', '1', '2', '3'],
          open.join('; '),
        );
      process.kill(job.pid, 'SIGKILL');
      assert.equal((await job.exited).signal, 'SIGKILL');
    });

    it('ends once the drain time is over when something the job left behind holds its output open', async (t) => {
      if (!ready(t)) return;
      const dir = tempDir(t);
      const outputFile = join(dir, 'output');
      const pidFile = join(dir, 'left.pid');
      t.after(() => spawnSync('sh', ['-c', `kill -KILL $(cat ${pidFile})`]));
      const argv = ['sh', '-c', `sleep 30 & echo $! > ${pidFile}; echo done`];
      const job = await start(argv, { env: ENV, outputFile, maxOutputBytes: 4096 });
      const exit = await job.exited;
      assert.deepEqual([exit.code, exit.spawnError], [0, undefined]);
      assert.equal(readFileSync(outputFile, 'utf8'), 'done\n');
    });
  });
}

describe("a job's process when the spawner dies under it", () => {
  it('ends the job with the spawner and says so, instead of waiting for it', async (t) => {
    if (!requires(t, BUILT)) return;
    const own = new SpawnerStarter(SPAWNER_PATH);
    t.after(() => own.stop());
    const outputFile = join(tempDir(t), 'output');
    // --pdeathsig: as bwrap's --die-with-parent does for a real job's sandbox.
    const argv = ['setpriv', '--pdeathsig', 'KILL', '--', 'sh', '-c', 'echo running; exec sleep 30'];
    const job = await throughSpawner(own, argv, { env: ENV, outputFile, maxOutputBytes: 4096 });
    await eventually(() => readFileSync(outputFile, 'utf8') === 'running\n');
    process.kill(own.pid ?? 0, 'SIGKILL');
    const exit = await job.exited;
    assert.match(exit.lost ?? '', /labslot-spawner exited \(SIGKILL\); the job ended with it/);
    await eventually(
      () => !existsSync(`/proc/${job.pid}`) || /^State:\s+Z/m.test(readFileSync(`/proc/${job.pid}/status`, 'utf8')),
      {
        message: 'the job to end with the spawner',
      },
    );
  });
});
