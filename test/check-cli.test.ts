// `labslot check` as an operator runs it on a lab host: a table or JSON, exit
// 0 when everything is healthy, 1 when anything is not, 2 for usage errors.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import { openDatabase } from '../src/db/open-database.js';
import { slots } from '../src/db/schema.js';
import { ensureSlotRows } from '../src/slots/slot-states.js';
import type { CheckJson } from './helpers/api-types.js';
import { hasStackTrace, runCli } from './helpers/cli.js';
import { command, requires } from './helpers/prerequisites.js';
import { ptyPair, responder } from './helpers/pty-pair.js';
import { tempDir } from './helpers/temp-dir.js';

describe('labslot check', () => {
  it('checks a small real lab: a console on a PTY and command checks', async (t) => {
    if (!requires(t, command('socat', ['-V']))) return;
    const dir = tempDir(t);
    const pty = await ptyPair(t, dir);
    await responder(t, pty.peer, () => 'hubris> ');
    const config = join(dir, 'slots.toml');
    writeFileSync(
      config,
      `[agent]\nstate_dir = "state"\n[health]\nmin_free_disk = "1MiB"\nmin_available_memory = "1MiB"\n` +
        `[devices.console]\nkind = "serial"\npath = "${pty.device}"\nprobe = { send = "\\r\\n", expect = "hubris> ", timeout = "1s" }\n` +
        `[devices.humility]\nkind = "command"\nargv = ["echo", "probe {tty} ok"]\n` +
        `[devices.broken]\nkind = "command"\nargv = ["sh", "-c", "echo no probe >&2; exit 4"]\n` +
        `[slots.good]\ntarget = "gimlet"\ndevices = ["console", "humility"]\n[slots.bad]\ntarget = "gimlet"\ndevices = ["broken"]\n`,
    );

    const good = await runCli(['check', '-c', config, '--slot', 'good']);
    assert.equal(good.code, 0, good.stdout + good.stderr);
    assert.match(good.stdout, /^SLOT\s+DEVICE\s+KIND\s+OK\s+REASON\s+MS$/m);
    assert.match(good.stdout, /^good\s+console\s+serial\s+yes\s+serial \/dev\/pts\/\d+ answered\s+\d+$/m);
    assert.match(good.stdout, /^good\s+humility\s+command\s+yes\s+command echo ok/m);

    const all = await runCli(['check', '-c', config, '--json']);
    assert.equal(all.code, 1);
    const json = JSON.parse(all.stdout) as CheckJson;
    assert.equal(json.healthy, false);
    assert.equal(json.host.ok, true);
    assert.deepEqual(
      json.slots.map((s) => [s.name, s.healthy]),
      [
        ['bad', false],
        ['good', true],
      ],
    );
    const { duration_ms: durationMs, ...broken } = json.slots[0]?.devices[0] ?? {};
    assert.deepEqual(broken, {
      name: 'broken',
      kind: 'command',
      ok: false,
      reason: 'command sh exited 4',
      detail: 'no probe',
    });
    assert.equal(typeof durationMs, 'number');
  });

  it('fills placeholders from the slot without a shell', async (t) => {
    if (!requires(t, command('socat', ['-V']))) return;
    const dir = tempDir(t);
    const pty = await ptyPair(t, dir);
    const config = join(dir, 'slots.toml');
    const evil = join(dir, 'pwned');
    writeFileSync(
      config,
      `[devices.console]\nkind = "serial"\npath = "${pty.device}"\n` +
        `[devices.show]\nkind = "command"\nargv = ["echo", "tty={tty}", "; touch ${evil}"]\n` +
        `[slots.s]\ntarget = "t"\ndevices = ["console", "show"]\n`,
    );
    const result = await runCli(['check', '-c', config, '--slot', 's', '--json']);
    const json = JSON.parse(result.stdout) as CheckJson;
    const detail = json.slots[0]?.devices.find((d) => d.name === 'show')?.detail;
    assert.match(detail ?? '', new RegExp(`^tty=/dev/pts/\\d+ ; touch ${evil}$`));
  });

  it('names every missing device of slots.example.toml on a machine without that lab, and exits 1', async () => {
    const result = await runCli(['check', '-c', 'slots.example.toml']);
    assert.equal(result.code, 1);
    const rows = result.stdout.trim().split('\n').slice(2);
    assert.equal(rows.length, 16, 'one row per device of each slot (6 + 6 + 4)');
    assert.ok(
      rows.every((row) => /\sNO\s/.test(row)),
      'nothing of that lab is attached here',
    );
    assert.match(
      result.stdout,
      /gimlet-1-sp-probe\s+usb\s+NO\s+usb 1fc9:0143 serial MKPNRQ1ZY3DVX not present \(no 1fc9:0143 device is present\)/,
    );
    assert.match(result.stdout, /gimlet-1-power\s+power\s+NO\s+pdudaemon at http:\/\/127\.0\.0\.1:16421 not answering/);
    assert.match(
      result.stdout,
      /gimlet-2-console\s+serial\s+NO\s+serial adapter usb 0403:6001 serial A10KZP7Q has no tty/,
    );
    assert.equal(hasStackTrace(result.stderr), false);
  });

  it('exits 2 for an unknown slot or a bad config, without a stack trace', async (t) => {
    const dir = tempDir(t);
    const config = join(dir, 'slots.toml');
    writeFileSync(config, '[devices.c]\nkind = "command"\nargv = ["true"]\n[slots.s]\ntarget = "t"\ndevices = ["c"]\n');
    const unknown = await runCli(['check', '-c', config, '--slot', 'nope']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no slot named "nope" \(slots: s\)/);
    writeFileSync(config, '[slots.s]\ntarget = "t"\ndevices = ["c"]\n');
    const bad = await runCli(['check', '-c', config]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /slots\.s\.devices\[0\]: unknown device "c"/);
    assert.equal(hasStackTrace(bad.stderr + unknown.stderr), false);
  });
});

describe('labslot check next to a running agent', () => {
  it('gives the slots the agent has leased passive checks only', async (t) => {
    const dir = tempDir(t);
    const config = join(dir, 'slots.toml');
    const marker = join(dir, 'ran');
    writeFileSync(
      config,
      `[agent]\nstate_dir = "state"\n[devices.probe]\nkind = "command"\nargv = ["touch", "${marker}"]\n[slots.busy]\ntarget = "t"\ndevices = ["probe"]\n`,
    );
    const db = openDatabase({ stateDir: join(dir, 'state') });
    ensureSlotRows(db, ['busy']);
    db.update(slots).set({ usage: 'running' }).where(eq(slots.name, 'busy')).run();
    db.$client.close();

    const result = await runCli(['check', '-c', config, '--json']);
    const json = JSON.parse(result.stdout) as CheckJson;
    const probe = json.slots[0]?.devices[0];
    assert.equal(probe?.ok, null);
    assert.match(probe.reason, /skipped: the slot is leased/);
    assert.equal(existsSync(marker), false, 'the command check must not run on a leased slot');
  });
});
