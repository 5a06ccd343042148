// The illumos output FIFO (src/platform/illumos/output-pipe.ts) for real with
// the local sh: it is plain POSIX, so unlike the rest of the illumos platform
// (illumos-manifests, illumos-commands and illumos-job-launch tests) it runs
// here. Apart from those files to keep each under the size limit.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ByteCap, OutputPipe } from '../src/platform/illumos/output-pipe.js';
import { eventually } from './helpers/eventually.js';
import { tempDir } from './helpers/temp-dir.js';

describe('the output FIFO', () => {
  it('appends what the job writes, and ends only when its last writer is gone', async (t) => {
    const dir = tempDir(t);
    const out = join(dir, 'output.log');
    writeFileSync(out, 'before\n');
    const pipe = await OutputPipe.open(join(dir, 'fifo'), out);
    t.after(() => pipe.close());
    spawnSync('/bin/sh', ['-c', `echo one > ${dir}/fifo; printf 'two <&>\\n' > ${dir}/fifo`]);
    const leftover = spawn('/bin/sh', ['-c', `exec 1>${dir}/fifo; echo early; sleep 0.3; echo late`]);
    // Only once the leftover holds the FIFO does releasing the agent's own write end prove anything.
    await eventually(() => readFileSync(out, 'utf8').includes('early'), {
      timeoutMs: 5_000,
      intervalMs: 10,
      message: 'the leftover to write',
    });
    pipe.releaseWriter();
    assert.equal(await pipe.drained(50), false, 'a leftover still holds the FIFO');
    await new Promise((resolve) => leftover.once('exit', resolve));
    assert.equal(await pipe.drained(5_000), true);
    assert.equal(readFileSync(out, 'utf8'), 'before\none\ntwo <&>\nearly\nlate\n');
  });

  it("copies at most its cap, then closes the FIFO so that the job's further writes fail", async (t) => {
    const dir = tempDir(t);
    const out = join(dir, 'output.log');
    writeFileSync(out, 'before\n');
    const pipe = await OutputPipe.open(join(dir, 'fifo'), out, { maxBytes: 100_001 });
    t.after(() => pipe.close());
    // Ignoring SIGPIPE, as a hostile job may: yes then sees EPIPE and says so on stderr.
    const job = spawn('/bin/sh', ['-c', `trap '' PIPE; exec yes 0123456789abcdef > ${dir}/fifo`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    job.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => job.once('exit', (exitCode) => resolve(exitCode)));
    assert.notEqual(code, 0);
    assert.match(stderr, /Broken pipe/);
    pipe.releaseWriter();
    assert.equal(await pipe.drained(5_000), true);
    const output = readFileSync(out, 'utf8');
    assert.equal(output.length, 'before\n'.length + 100_001);
    assert.equal(output, `before\n${'0123456789abcdef\n'.repeat(6000).slice(0, 100_001)}`);
  });

  it('passes exactly the first bytes up to the cap, across chunk borders', async () => {
    for (const [cap, chunks] of [
      [0, ['abc']],
      [3, ['ab', 'cd', 'ef']],
      [4, ['abcd', 'ef']],
      [10, ['abc', 'def']],
    ] as const) {
      let full = 0;
      const byteCap = new ByteCap(cap, () => (full += 1));
      const parts: Buffer[] = [];
      byteCap.on('data', (chunk: Buffer) => parts.push(chunk));
      for (const chunk of chunks) byteCap.write(chunk);
      byteCap.end();
      await new Promise((resolve) => byteCap.once('end', resolve));
      assert.equal(Buffer.concat(parts).toString(), chunks.join('').slice(0, cap), `cap ${cap}`);
      assert.equal(full, chunks.join('').length >= cap ? 1 : 0, `cap ${cap} reached once`);
    }
  });
});
