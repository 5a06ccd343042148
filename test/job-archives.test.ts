// Inputs and outputs of jobs: an archive uploaded with --input appears
// read-only at /input; what a job writes under $LABSLOT_OUTPUT survives its
// cleanup and comes back with `labslot job outputs`. Archives with absolute
// paths, "..", symlinks or hard links are refused by name, both ways.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ArchiveError, checkArchive, createArchive, extractArchive } from '../src/jobs/job-archives.js';
import { runCli } from './helpers/cli.js';
import { jobLab, SUBMITTER_TOKEN } from './helpers/job-lab.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';
import { tempDir } from './helpers/temp-dir.js';

/** A tar with one hostile entry, made by Python's tarfile, which writes whatever it is told. */
function hostileTar(dir: string, kind: 'dotdot' | 'absolute' | 'symlink' | 'hardlink' | 'chardev' | 'fifo'): string {
  const file = join(dir, `${kind}.tar`);
  const script = [
    'import io, sys, tarfile',
    'kind, out = sys.argv[1], sys.argv[2]',
    'with tarfile.open(out, "w") as t:',
    '    ok = tarfile.TarInfo("fine.txt"); data = b"fine"; ok.size = len(data); t.addfile(ok, io.BytesIO(data))',
    '    bad = tarfile.TarInfo({"dotdot": "../../etc/evil", "absolute": "/etc/evil", "symlink": "link", "hardlink": "hard", "chardev": "tty", "fifo": "pipe"}[kind])',
    '    if kind == "symlink": bad.type = tarfile.SYMTYPE; bad.linkname = "/etc/shadow"',
    '    elif kind == "hardlink": bad.type = tarfile.LNKTYPE; bad.linkname = "/etc/shadow"',
    '    elif kind == "chardev": bad.type = tarfile.CHRTYPE; bad.devmajor = 5; bad.devminor = 0',
    '    elif kind == "fifo": bad.type = tarfile.FIFOTYPE',
    '    else: bad.size = 4',
    '    t.addfile(bad, io.BytesIO(b"evil") if bad.isfile() else None)',
  ].join('\n');
  execFileSync('python3', ['-c', script, kind, file]);
  return file;
}

describe('archives', () => {
  it('refuses hostile entries by name and extracts nothing of them', async (t) => {
    if (!requires(t, command('python3', ['--version']))) return;
    const dir = tempDir(t);
    const expected = {
      dotdot: '"../../etc/evil" climbs out with ".."',
      absolute: '"/etc/evil" is an absolute path',
      symlink: '"link" is a symbolic link',
      hardlink: '"hard" is a hard link',
      // In words, not node-tar's type names ("is a CharacterDevice").
      chardev: '"tty" is a character device, not a file or directory',
      fifo: '"pipe" is a named pipe, not a file or directory',
    };
    for (const [kind, why] of Object.entries(expected) as [keyof typeof expected, string][]) {
      const file = hostileTar(dir, kind);
      await assert.rejects(
        checkArchive(file),
        (error: Error) => error instanceof ArchiveError && error.message === `archive refused: ${why}`,
      );
      const into = join(dir, `out-${kind}`);
      await assert.rejects(extractArchive(file, into), ArchiveError);
      assert.equal(existsSync(join(into, 'fine.txt')), false, 'a refused archive extracts nothing at all');
    }
    assert.equal(existsSync('/etc/evil'), false);
  });

  it('says how far over the limit outputs are, in words', async (t) => {
    const dir = tempDir(t);
    mkdirSync(join(dir, 'out'));
    writeFileSync(join(dir, 'out', 'log.txt'), 'x'.repeat(2048));
    assert.deepEqual(await createArchive(join(dir, 'out'), join(dir, 'out.tar'), 1024), {
      ok: false,
      reason: '2048 bytes in 1 file, over the limit of 1KiB',
    });
    writeFileSync(join(dir, 'out', 'more.txt'), 'y');
    assert.deepEqual(await createArchive(join(dir, 'out'), join(dir, 'out.tar'), 1024), {
      ok: false,
      reason: '2049 bytes in 2 files, over the limit of 1KiB',
    });
  });

  it('--input appears read-only at /input, and $LABSLOT_OUTPUT comes back with job outputs', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']), command('bwrap', ['--version']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }]);
    const input = join(lab.dir, 'input');
    mkdirSync(join(input, 'images'), { recursive: true });
    writeFileSync(join(input, 'images', 'sp.zip'), 'hubris image');
    writeFileSync(join(input, 'run.sh'), 'echo from input\n', { mode: 0o755 });
    const env = { LABSLOT_URL: lab.agent.url, LABSLOT_TOKEN: SUBMITTER_TOKEN };
    const script = [
      'cat /input/images/sp.zip; echo',
      'sh /input/run.sh',
      '(echo x > /input/new) 2>/dev/null && echo "WROTE INPUT" || echo "input is read-only"',
      'mkdir -p "$LABSLOT_OUTPUT/logs" && echo pass > "$LABSLOT_OUTPUT/logs/result.txt"',
      'ln -s /etc/shadow "$LABSLOT_OUTPUT/shadow"',
    ].join('\n');
    const run = await runCli(['job', 'run', '--target', 'tb', '--input', input, '--', 'sh', '-c', script], {
      env,
      timeoutMs: 60_000,
    });
    const runId = /job (j\w+) queued/.exec(run.stderr)?.[1] ?? '';
    assert.equal(run.code, 0, `${run.stderr}${JSON.stringify(await lab.job(runId))}`);
    assert.equal(run.stdout, 'hubris image\nfrom input\ninput is read-only\n');
    const id = /job (j\w+) queued/.exec(run.stderr)?.[1] ?? '';
    assert.match(run.stderr, /got its input: 2 files, 28 bytes/);

    const out = join(lab.dir, 'outputs');
    const fetched = await runCli(['job', 'outputs', id, '-o', out], { env });
    assert.equal(fetched.code, 0, fetched.stderr);
    assert.equal(readFileSync(join(out, 'logs', 'result.txt'), 'utf8'), 'pass\n');
    assert.deepEqual(readdirSync(out).sort(), ['logs'], 'the symlink was not kept');
    const events = await lab.events();
    assert.ok(
      events.some(
        (e) => e.type === 'job.outputs-discarded' && e.message.includes('left out (not regular files): shadow'),
      ),
    );
    const job = await lab.job(id);
    assert.equal((job as unknown as { outputs_bytes: number }).outputs_bytes, 5);
  });

  it('keeps a job waiting through a refused upload, and runs it after a good one', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']), command('python3', ['--version']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }], '', 'stop_grace = "1s"\nmax_input = "64KiB"');
    const id = await lab.submit({ target: 'tb', argv: ['ls', '/input'], input: true });
    const put = async (
      body: Buffer,
    ): Promise<{ status: number; json: { error?: { code: string; message: string } } }> => {
      const response = await fetch(`${lab.agent.url}/v1/jobs/${id}/input`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${SUBMITTER_TOKEN}`, 'content-type': 'application/x-tar' },
        body,
      });
      return {
        status: response.status,
        json: (await response.json()) as { error?: { code: string; message: string } },
      };
    };
    const hostile = await put(readFileSync(hostileTar(lab.dir, 'dotdot')));
    assert.equal(hostile.status, 400);
    assert.deepEqual(hostile.json.error, {
      code: 'bad_archive',
      message: 'archive refused: "../../etc/evil" climbs out with ".."',
    });
    const big = await put(Buffer.alloc(256 * 1024));
    assert.equal(big.status, 413);
    assert.match(big.json.error?.message ?? '', /over the limit of 64KiB \(\[jobs\] max_input\)/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const waiting = await lab.job(id);
    assert.deepEqual(
      { state: waiting.state, waiting: waiting.waiting },
      { state: 'queued', waiting: 'waiting for its input archive' },
    );

    const good = join(lab.dir, 'good');
    mkdirSync(good);
    writeFileSync(join(good, 'only.txt'), 'x');
    symlinkSync('only.txt', join(lab.dir, 'not-sent'));
    const archive = join(lab.dir, 'good.tar');
    execFileSync('tar', ['-C', good, '-cf', archive, '.']);
    assert.equal((await put(readFileSync(archive))).status, 200);
    const job = await lab.waitDone(id);
    assert.equal(job.state, 'succeeded');
    assert.equal(await lab.output(id), 'only.txt\n');
    assert.ok(
      (await lab.events()).some(
        (e) => e.type === 'job.input' && e.message === `job ${id} got its input: 1 file, 1 byte`,
      ),
      'one file, not "1 files"',
    );
    assert.equal((await put(readFileSync(archive))).status, 409, 'one input per job');
  });
});
