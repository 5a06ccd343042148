// HUMILITY_ENVIRONMENT against the schema humility itself reads
// (oxidecomputer/humility, humility-cli/src/env.rs): an object keyed by target
// whose entries are `struct Environment { probe: String, archive: Value,
// description: Option<String>, cmds: Option<Value> }` with
// #[serde(deny_unknown_fields)], and `archive` a path or named paths picked by
// --archive-name. `humilityReads` (helpers/humility-reader.ts) mirrors those
// serde rules and the archive selection, with humility's messages, so the file
// labslot writes is checked the way humility would take it. Also here: the
// config key, the submission field and the CLI option that feed it.
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { parseArchiveOptions } from '../src/cli/archive-option.js';
import { CliError } from '../src/cli/exit-codes.js';
import { ConfigError } from '../src/config/config-error.js';
import { loadLabConfig } from '../src/devices/load-lab-config.js';
import {
  archivesMissingFromInput,
  humilityEnvironment,
  humilityNames,
  leftOutNote,
} from '../src/jobs/humility-environment.js';
import { JobRefusedError, submitJob } from '../src/jobs/job-queue.js';
import { jobRequestSchema } from '../src/jobs/job-request.js';
import { PROJECT_ROOT } from './helpers/cli.js';
import { humilityReads } from './helpers/humility-reader.js';
import { labFixture } from './helpers/lab-fixture.js';
import { tempDir } from './helpers/temp-dir.js';

/** The file as worker setup writes it. */
function fileText(entries: unknown): string {
  return `${JSON.stringify(entries, null, 2)}\n`;
}

describe('the humility reader of this test', () => {
  it("takes humility's own examples (env.rs tests) and refuses what serde would", () => {
    const single =
      '{"board1": {"description": "a board", "probe": "1234:5678:ABCDEFG", "archive": "/some/valid/path"}}';
    assert.deepEqual(humilityReads(single, 'board1'), {
      ok: true,
      probe: '1234:5678:ABCDEFG',
      archive: '/some/valid/path',
    });
    const multi =
      '{"board1": {"description": "a board", "probe": "1234:5678:ABCDEFG", "archive": {"name1": "/some/valid/path", "name2": "/some/other/path"}}}';
    assert.deepEqual(humilityReads(multi, 'board1', 'name2'), {
      ok: true,
      probe: '1234:5678:ABCDEFG',
      archive: '/some/other/path',
    });
    assert.deepEqual(humilityReads(multi, 'board1'), {
      ok: false,
      error: 'Failed to get archive: Need an archive name',
    });
    assert.deepEqual(humilityReads(single, 'board1', 'name1'), {
      ok: false,
      error: 'Failed to get archive: an archive name was specified but there is only one archive',
    });
    assert.deepEqual(humilityReads('{"b": {"probe": "1:2:3", "archive": "/a", "role": "sp"}}', 'b'), {
      ok: false,
      error:
        'failed to match environment: unknown field `role`, expected one of `probe`, `archive`, `description`, `cmds`',
    });
    assert.deepEqual(humilityReads('{"b": {"probe": 7, "archive": "/a"}}'), {
      ok: false,
      error: 'failed to parse environment: invalid type: integer `7`, expected a string',
    });
    assert.deepEqual(humilityReads('{"b": {"probe": "1:2:3", "archive": "/a", "cmds": {"console": "x"}}}', 'b'), {
      ok: true,
      probe: '1:2:3',
      archive: '/a',
    });
  });
});

describe('HUMILITY_ENVIRONMENT', () => {
  const example = loadLabConfig(join(PROJECT_ROOT, 'slots.example.toml'));
  const gimlet1 = example.slots.get('gimlet-1');
  assert.ok(gimlet1);

  it('gives each probe of the example config an entry humility accepts: probe, archive, description and nothing else', () => {
    const file = humilityEnvironment(example, gimlet1);
    assert.deepEqual(file.leftOut, []);
    assert.deepEqual(file.entries, {
      sp: {
        probe: '1fc9:0143:MKPNRQ1ZY3DVX',
        archive: '/var/lib/hubris/gimlet-c/build-gimlet-c.zip',
        description: 'gimlet-1 gimlet-1-sp-probe',
      },
      rot: {
        probe: '1fc9:0143:GHZ4GAXHQJ1W3',
        archive: { a: '/var/lib/hubris/rot/build-rot-a.zip', b: '/var/lib/hubris/rot/build-rot-b.zip' },
        description: 'gimlet-1 gimlet-1-rot-probe',
      },
    });
    const text = fileText(file.entries);
    assert.deepEqual(humilityReads(text), { ok: true, targets: ['sp', 'rot'] });
    assert.deepEqual(humilityReads(text, 'sp'), {
      ok: true,
      probe: '1fc9:0143:MKPNRQ1ZY3DVX',
      archive: '/var/lib/hubris/gimlet-c/build-gimlet-c.zip',
    });
    assert.deepEqual(humilityReads(text, 'rot', 'b'), {
      ok: true,
      probe: '1fc9:0143:GHZ4GAXHQJ1W3',
      archive: '/var/lib/hubris/rot/build-rot-b.zip',
    });
    assert.deepEqual(
      humilityReads(text, 'rot'),
      { ok: false, error: 'Failed to get archive: Need an archive name' },
      'named archives need --archive-name, as humility says',
    );
  });

  it("points a job's own archives into /input, replacing the configured ones for that job only", () => {
    const file = humilityEnvironment(example, gimlet1, { sp: 'build/gimlet-c.zip', rot: { dev: 'rot/dev.zip' } });
    const text = fileText(file.entries);
    assert.deepEqual(humilityReads(text, 'sp'), {
      ok: true,
      probe: '1fc9:0143:MKPNRQ1ZY3DVX',
      archive: '/input/build/gimlet-c.zip',
    });
    assert.deepEqual(humilityReads(text, 'rot', 'dev'), {
      ok: true,
      probe: '1fc9:0143:GHZ4GAXHQJ1W3',
      archive: '/input/rot/dev.zip',
    });
    assert.deepEqual(
      humilityReads(text, 'rot', 'a'),
      { ok: false, error: "Failed to get archive: Couldn't find archive a" },
      "the job's set replaces the config's whole",
    );
    assert.deepEqual(humilityEnvironment(example, gimlet1, { sp: 'x.zip' }).entries['rot']?.archive, {
      a: '/var/lib/hubris/rot/build-rot-a.zip',
      b: '/var/lib/hubris/rot/build-rot-b.zip',
    });
  });

  it('leaves out a probe without an archive, which humility would refuse together with every other entry, and says why', (t) => {
    const { lab } = labFixture(
      t,
      tempDir(t),
      `[devices.sp]\nkind = "usb"\nvid = 0x1fc9\npid = 0x0143\nserial = "SP1"\nrole = "sp-probe"\n` +
        `[devices.rot]\nkind = "usb"\nvid = 0x1fc9\npid = 0x0143\nserial = "ROT1"\nrole = "rot-probe"\narchive = "/var/lib/hubris/rot.zip"\n` +
        `[devices.jtag]\nkind = "usb"\nvid = 0x1366\npid = 0x0105\nserial = "J1"\n` +
        `[devices.hub]\nkind = "usb"\nvid = 0x0424\npid = 0x2514\nserial = "H1"\nrole = "other"\n` +
        `[slots.bench-1]\ntarget = "bench"\ndevices = ["sp", "rot", "jtag", "hub"]\n`,
    );
    const slot = lab.slots.get('bench-1');
    assert.ok(slot);
    const file = humilityEnvironment(lab, slot);
    assert.deepEqual(Object.keys(file.entries), ['rot']);
    assert.deepEqual(
      file.leftOut.map((p) => [p.name, p.device, p.probe]),
      [
        ['sp', 'sp', '1fc9:0143:SP1'],
        ['jtag', 'jtag', '1366:0105:J1'],
      ],
    );
    // What labslot writes stays readable for every humility command; only the left-out target is unknown.
    const text = fileText(file.entries);
    assert.deepEqual(humilityReads(text), { ok: true, targets: ['rot'] });
    assert.deepEqual(humilityReads(text, 'rot'), {
      ok: true,
      probe: '1fc9:0143:ROT1',
      archive: '/var/lib/hubris/rot.zip',
    });
    assert.deepEqual(humilityReads(text, 'sp'), {
      ok: false,
      error: 'failed to match environment: invalid target "sp" (expected one of: rot)',
    });
    // The job is told first, in its own output, what humility's message does not say.
    assert.equal(
      leftOutNote(file.leftOut),
      'labslot: HUMILITY_ENVIRONMENT has no "sp" entry (probe sp, 1fc9:0143:SP1): humility refuses an entry without an archive, ' +
        'and none is configured ([devices.sp] archive) or submitted (labslot job run --input DIR --archive sp=PATH)\n' +
        'labslot: HUMILITY_ENVIRONMENT has no "jtag" entry (probe jtag, 1366:0105:J1): humility refuses an entry without an archive, ' +
        'and none is configured ([devices.jtag] archive) or submitted (labslot job run --input DIR --archive jtag=PATH)\n',
    );
    assert.equal(leftOutNote([]), '');

    // The failure a missing archive gives when the entry is written anyway (as labslot did before):
    // humility refuses the whole file, so even the RoT, and even a command with no target at all, fail.
    const withoutArchive = fileText({ sp: { probe: '1fc9:0143:SP1', description: 'bench-1 sp' }, ...file.entries });
    assert.deepEqual(humilityReads(withoutArchive, 'sp'), {
      ok: false,
      error: 'failed to match environment: missing field `archive`',
    });
    assert.deepEqual(humilityReads(withoutArchive, 'rot'), {
      ok: false,
      error: 'failed to match environment: missing field `archive`',
    });
    assert.deepEqual(humilityReads(withoutArchive), {
      ok: false,
      error: 'failed to parse environment: missing field `archive`',
    });

    // A job's archive fills the gap.
    const filled = humilityEnvironment(lab, slot, { sp: 'sp.zip', jtag: { a: 'j/a.zip' } });
    assert.deepEqual(filled.leftOut, []);
    assert.deepEqual(humilityReads(fileText(filled.entries), 'sp'), {
      ok: true,
      probe: '1fc9:0143:SP1',
      archive: '/input/sp.zip',
    });
    assert.deepEqual(humilityReads(fileText(filled.entries), 'jtag', 'a'), {
      ok: true,
      probe: '1366:0105:J1',
      archive: '/input/j/a.zip',
    });
    assert.deepEqual(humilityNames(lab, 'bench'), ['jtag', 'rot', 'sp']);
  });

  it('names a second probe of one role by its device, so no entry replaces another', (t) => {
    const { lab } = labFixture(
      t,
      tempDir(t),
      `[devices.sp-a]\nkind = "usb"\nvid = 1\npid = 2\nserial = "A"\nrole = "sp-probe"\narchive = "/a.zip"\n` +
        `[devices.sp-b]\nkind = "usb"\nvid = 1\npid = 2\nserial = "B"\nrole = "sp-probe"\narchive = "/b.zip"\n` +
        `[slots.two]\ntarget = "t"\ndevices = ["sp-a", "sp-b"]\n`,
    );
    const slot = lab.slots.get('two');
    assert.ok(slot);
    const text = fileText(humilityEnvironment(lab, slot).entries);
    assert.deepEqual(humilityReads(text), { ok: true, targets: ['sp', 'sp-b'] });
    assert.deepEqual(humilityReads(text, 'sp-b'), { ok: true, probe: '0001:0002:B', archive: '/b.zip' });
  });
});

describe('devices.<name>.archive', () => {
  function problems(t: TestContext, archiveToml: string, role = 'sp-probe'): string[] {
    const dir = tempDir(t);
    const file = join(dir, 'slots.toml');
    writeFileSync(
      file,
      `[devices.p]\nkind = "usb"\nvid = 1\npid = 2\nserial = "S"\nrole = "${role}"\narchive = ${archiveToml}\n[slots.s]\ntarget = "t"\ndevices = ["p"]\n`,
    );
    try {
      loadLabConfig(file, { stateDir: join(dir, 'state') });
      return [];
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      return error.issues.map((i) => `${i.path ?? ''}: ${i.message}`);
    }
  }

  it('takes an absolute path or a table of named absolute paths', (t) => {
    assert.deepEqual(problems(t, '"/var/lib/hubris/sp.zip"'), []);
    assert.deepEqual(problems(t, '{ a = "/x/a.zip", "rot-b.1" = "/x/b.zip" }'), []);
  });

  it('refuses, by key path, what humility or a job could not use', (t) => {
    assert.deepEqual(problems(t, '"build/sp.zip"'), [
      'devices.p.archive: must be an absolute path on this host (e.g. /var/lib/hubris/gimlet-c.zip)',
    ]);
    assert.deepEqual(problems(t, '{ a = "/x/a.zip", b = "b.zip" }'), [
      'devices.p.archive.b: must be an absolute path on this host (e.g. /var/lib/hubris/gimlet-c.zip)',
    ]);
    assert.deepEqual(problems(t, '{}'), [
      'devices.p.archive: names no archive: give a path, or at least one NAME = path',
    ]);
    assert.deepEqual(problems(t, '["/a.zip"]'), [
      'devices.p.archive: must be a path, or a table of named paths ({ a = "...", b = "..." }) chosen with humility --archive-name',
    ]);
    assert.deepEqual(problems(t, '{ "a=b" = "/x.zip" }'), [
      'devices.p.archive."a=b": "a=b" is not an archive name (letters, digits, ".", "_", "-"; at most 64)',
    ]);
    assert.deepEqual(problems(t, '"/var/lib/hubris/"'), [
      'devices.p.archive: names a directory; an archive is a file (e.g. build/gimlet-c/dist/default/build-gimlet-c.zip)',
    ]);
    assert.deepEqual(problems(t, '"/x.zip"', 'other'), [
      'devices.p.archive: a device with role "other" is not in HUMILITY_ENVIRONMENT, so it has no archive: make it a probe or drop the archive',
    ]);
  });
});

describe("a job's archives", () => {
  const parse = (archives: unknown, input = true): string[] | Record<string, unknown> => {
    const parsed = jobRequestSchema.safeParse({ target: 'gimlet', argv: ['true'], input, archives });
    // As the route words them: a refused record key by the inner issue that says why.
    return parsed.success
      ? (parsed.data.archives ?? {})
      : parsed.error.issues.map(
          (i) => `${i.path.join('.')}: ${i.code === 'invalid_key' ? (i.issues[0]?.message ?? i.message) : i.message}`,
        );
  };

  it('are paths inside the input, one or named, written one way', () => {
    assert.deepEqual(parse({ sp: './build//sp.zip', rot: { a: 'rot/a.zip', b: 'rot/./b.zip' } }), {
      sp: 'build/sp.zip',
      rot: { a: 'rot/a.zip', b: 'rot/b.zip' },
    });
  });

  it('may not leave the input, and come only with one', () => {
    assert.deepEqual(parse({ sp: '/input/sp.zip' }), [
      "archives.sp: must be relative to the job's input (build/sp.zip for /input/build/sp.zip)",
    ]);
    assert.deepEqual(parse({ sp: 'a/../../etc/shadow' }), ['archives.sp: must not climb out of the input with ".."']);
    assert.deepEqual(parse({ rot: { a: '..' } }), ['archives.rot.a: must not climb out of the input with ".."']);
    assert.deepEqual(parse({ sp: '.' }), ['archives.sp: names the input directory itself; an archive is a file in it']);
    assert.deepEqual(parse({ SP: 'x.zip' }), [
      'archives.SP: must match [a-z0-9][a-z0-9-]* (lowercase letters, digits, dashes)',
    ]);
    assert.deepEqual(parse({ sp: 'sp.zip' }, false), [
      'archives: archives are files in the job\'s input: submit with "input": true and send them with PUT /v1/jobs/:id/input',
    ]);
  });

  it('must name a probe some slot of the target has', (t) => {
    const { lab, db } = labFixture(
      t,
      tempDir(t),
      `[devices.sp]\nkind = "usb"\nvid = 1\npid = 2\nserial = "S"\nrole = "sp-probe"\n[slots.g1]\ntarget = "gimlet"\ndevices = ["sp"]\n` +
        `[devices.c]\nkind = "command"\nargv = ["true"]\n[slots.p1]\ntarget = "psc"\ndevices = ["c"]\n`,
    );
    const request = (target: string, archives: Record<string, string>) =>
      jobRequestSchema.parse({ target, argv: ['true'], input: true, archives });
    assert.deepEqual(submitJob(db, lab, request('gimlet', { sp: 'sp.zip' }), 'test').archives, { sp: 'sp.zip' });
    assert.throws(
      () => submitJob(db, lab, request('gimlet', { rot: 'rot.zip' }), 'test'),
      (error: unknown) => {
        assert.ok(error instanceof JobRefusedError);
        assert.deepEqual(
          [error.field, error.message],
          [
            'archives.rot',
            'no slot of target "gimlet" has a probe named "rot" in HUMILITY_ENVIRONMENT (its probes: sp)',
          ],
        );
        return true;
      },
    );
    assert.throws(
      () => submitJob(db, lab, request('psc', { sp: 'sp.zip' }), 'test'),
      /no slot of target "psc" has a probe named "sp" in HUMILITY_ENVIRONMENT \(its slots have no probes\)/,
    );
    assert.equal(
      submitJob(db, lab, jobRequestSchema.parse({ target: 'gimlet', argv: ['true'] }), 'test').archives,
      null,
    );
  });

  it('must be regular files in the input once it has arrived', async (t) => {
    const input = tempDir(t);
    mkdirSync(join(input, 'build'));
    writeFileSync(join(input, 'build', 'sp.zip'), 'PK');
    assert.deepEqual(await archivesMissingFromInput(input, { sp: 'build/sp.zip' }), []);
    assert.deepEqual(await archivesMissingFromInput(input, null), []);
    assert.deepEqual(
      await archivesMissingFromInput(input, { sp: 'build/sp.zi', rot: { a: 'build', b: 'build/sp.zip' } }),
      ['archives.sp: "build/sp.zi" is not in the input', 'archives.rot.a: "build" is a directory, not an archive file'],
    );
  });
});

describe('labslot job run|submit --archive', () => {
  function input(t: TestContext): string {
    const dir = tempDir(t);
    mkdirSync(join(dir, 'build', 'rot'), { recursive: true });
    writeFileSync(join(dir, 'build', 'sp.zip'), 'PK');
    writeFileSync(join(dir, 'build', 'rot', 'a.zip'), 'PK');
    writeFileSync(join(dir, 'build', 'rot', 'b.zip'), 'PK');
    symlinkSync('sp.zip', join(dir, 'build', 'link.zip'));
    return dir;
  }
  const refusal = (fn: () => unknown): string => {
    try {
      fn();
    } catch (error) {
      assert.ok(error instanceof CliError, String(error));
      assert.equal(error.exitCode, 2, 'a usage error');
      return error.message;
    }
    return 'accepted';
  };

  it("turns PROBE=PATH and PROBE.NAME=PATH into the submission's archives", (t) => {
    const dir = input(t);
    assert.deepEqual(
      parseArchiveOptions(['sp=./build/sp.zip', 'rot.a=build/rot/a.zip', 'rot.b=build/rot/b.zip'], dir),
      { sp: 'build/sp.zip', rot: { a: 'build/rot/a.zip', b: 'build/rot/b.zip' } },
    );
  });

  it('refuses, before anything is sent, what the agent would refuse or the input would not carry', (t) => {
    const dir = input(t);
    assert.equal(
      refusal(() => parseArchiveOptions(['sp=build/sp.zip'], undefined)),
      "--archive names a file in the job's input: give --input DIR too",
    );
    assert.equal(
      refusal(() => parseArchiveOptions(['build/sp.zip'], dir)),
      '--archive "build/sp.zip": expected PROBE=PATH or PROBE.NAME=PATH (e.g. --archive sp=build/gimlet-c.zip, or --archive rot.a=build/rot-a.zip)',
    );
    assert.equal(
      refusal(() => parseArchiveOptions([`sp=${join(dir, 'build/sp.zip')}`], dir)),
      `--archive "sp=${join(dir, 'build/sp.zip')}": the path must be relative to the job's input (build/sp.zip for /input/build/sp.zip)`,
    );
    assert.equal(
      refusal(() => parseArchiveOptions(['sp=../sp.zip'], dir)),
      '--archive "sp=../sp.zip": the path must not climb out of the input with ".."',
    );
    assert.equal(
      refusal(() => parseArchiveOptions(['sp=build/gone.zip'], dir)),
      `--archive "sp=build/gone.zip": build/gone.zip does not exist in --input ${dir}`,
    );
    assert.equal(
      refusal(() => parseArchiveOptions(['sp=build'], dir)),
      `--archive "sp=build": build is not a regular file in --input ${dir}`,
    );
    assert.equal(
      refusal(() => parseArchiveOptions(['sp=build/link.zip'], dir)),
      `--archive "sp=build/link.zip": build/link.zip goes through a symbolic link (not sent with the input) in --input ${dir}`,
    );
    assert.equal(
      refusal(() => parseArchiveOptions(['sp=build/sp.zip', 'sp.a=build/rot/a.zip'], dir)),
      '--archive "sp.a=build/rot/a.zip": sp.a is given twice, or both with and without a name',
    );
    assert.equal(
      refusal(() => parseArchiveOptions(['rot.a=build/rot/a.zip', 'rot.a=build/rot/b.zip'], dir)),
      '--archive "rot.a=build/rot/b.zip": rot.a is given twice, or both with and without a name',
    );
    assert.equal(
      refusal(() => parseArchiveOptions(['rot.=build/rot/a.zip'], dir)),
      '--archive "rot.=build/rot/a.zip": "" is not an archive name (letters, digits, ".", "_", "-")',
    );
  });
});
