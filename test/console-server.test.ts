// console-server devices end to end, against a real ser2net in front of a PTY
// whose far end answers as a console does: `labslot check` says whether the
// console is reachable (naming it when not), and a job reaches it through
// LABSLOT_DEVICE_<NAME>=host:port.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { DeviceSpec } from '../src/config/schema.js';
import { deviceEnvValue } from '../src/devices/device-node.js';
import { runCli } from './helpers/cli.js';
import { jobLab } from './helpers/job-lab.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';
import { networkConsole } from './helpers/ser2net.js';
import { tempDir } from './helpers/temp-dir.js';

const SOCAT = command('socat', ['-V']);
const SER2NET = command('ser2net', ['-v']);

describe('console-server devices', () => {
  it('labslot check: healthy while ser2net serves the console, unhealthy naming it once ser2net is stopped', async (t) => {
    if (!requires(t, SOCAT, SER2NET)) return;
    const dir = tempDir(t);
    const consoleServer = await networkConsole(t, dir, () => '\r\nhubris> ');
    const config = join(dir, 'slots.toml');
    writeFileSync(
      config,
      `[agent]\nstate_dir = "state"\n[health]\nmin_free_disk = "1MiB"\nmin_available_memory = "1MiB"\ntimeout = "3s"\n` +
        `[devices.rack-console]\nkind = "console-server"\nhost = "${consoleServer.host}"\nport = ${consoleServer.port}\n` +
        `probe = { send = "\\r\\n", expect = "hubris> ", timeout = "2s" }\n` +
        `[slots.gimlet-1]\ntarget = "gimlet"\ndevices = ["rack-console"]\n`,
    );
    const endpoint = `127.0.0.1:${consoleServer.port}`;

    const up = await runCli(['check', '-c', config]);
    assert.equal(up.code, 0, up.stdout + up.stderr);
    assert.match(
      up.stdout,
      new RegExp(
        `^gimlet-1\\s+rack-console\\s+console-server\\s+yes\\s+console-server ${endpoint} answered\\s+\\d+$`,
        'm',
      ),
    );
    assert.deepEqual(consoleServer.received, [''], 'the active probe went through ser2net to the console');

    await consoleServer.stopSer2net();
    const down = await runCli(['check', '-c', config, '--json']);
    assert.equal(down.code, 1, down.stdout + down.stderr);
    const json = JSON.parse(down.stdout) as {
      slots: { devices: { name: string; kind: string; ok: boolean; reason: string }[] }[];
    };
    const device = json.slots[0]?.devices[0];
    assert.equal(device?.name, 'rack-console');
    assert.equal(device.kind, 'console-server');
    assert.equal(device.ok, false);
    assert.equal(device.reason, `console-server ${endpoint} closed (connection refused)`);
  });

  it('a job exchanges a line with the console through ser2net, at LABSLOT_DEVICE_<NAME>', async (t) => {
    if (!requires(t, ROOT, SOCAT, SER2NET, command('setpriv', ['--version']), command('bash', ['--version']))) return;
    const dir = tempDir(t);
    const consoleServer = await networkConsole(t, dir, (line) => `console got ${line}\r\n`);
    const lab = await jobLab(
      t,
      [{ name: 'gimlet-1', target: 'gimlet', devices: ['gimlet-1-net-console'] }],
      `[devices.gimlet-1-net-console]\nkind = "console-server"\nhost = "${consoleServer.host}"\nport = ${consoleServer.port}\n`,
    );
    // bash's /dev/tcp: what a job script has without any client installed.
    const script = [
      'endpoint="$LABSLOT_DEVICE_GIMLET_1_NET_CONSOLE"',
      'echo "endpoint=$endpoint"',
      'exec 3<>"/dev/tcp/${endpoint%:*}/${endpoint##*:}"',
      "printf 'hello from the job\\r\\n' >&3",
      'read -r -t 10 reply <&3',
      'echo "reply=${reply%$\'\\r\'}"',
    ].join('\n');
    const id = await lab.submit({ target: 'gimlet', argv: ['bash', '-c', script] });
    const job = await lab.waitDone(id, 60_000);
    const out = await lab.output(id);
    assert.equal(job.exit_code, 0, out);
    assert.match(out, new RegExp(`^endpoint=127\\.0\\.0\\.1:${consoleServer.port}$`, 'm'));
    assert.match(out, /^reply=console got hello from the job$/m);
    assert.ok(
      consoleServer.received.includes('hello from the job'),
      `the console saw the job's line: ${JSON.stringify(consoleServer.received)}`,
    );
  });

  it('config: one console endpoint is one device, and a host is a name or an address without brackets', async (t) => {
    const dir = tempDir(t);
    const config = join(dir, 'slots.toml');
    writeFileSync(
      config,
      `[devices.a]\nkind = "console-server"\nhost = "console-a.lab.example"\nport = 7001\n` +
        `[devices.b]\nkind = "console-server"\nhost = "console-a.lab.example"\nport = 7001\n` +
        `[devices.c]\nkind = "console-server"\nhost = "[fd00::1]"\nport = 7002\nbaud = 9600\n` +
        `[slots.s]\ntarget = "t"\ndevices = ["a", "b", "c"]\n`,
    );
    const result = await runCli(['config', 'validate', '-c', config]);
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stderr, /devices\.b: console console-a\.lab\.example:7001 is already device "a"/);
    assert.match(result.stderr, /devices\.c\.host: must be a host name or an IP address, without brackets or port/);
    assert.match(result.stderr, /devices\.c.*baud/, "a serial console's key is not a network console's");
  });

  it('gives a job host:port, with an IPv6 address in brackets and a host name as it is', () => {
    const at = (host: string): string | undefined =>
      deviceEnvValue({ kind: 'console-server', host, port: 7001 } satisfies DeviceSpec, null);
    assert.equal(at('fd00:1::10'), '[fd00:1::10]:7001');
    assert.equal(at('192.0.2.7'), '192.0.2.7:7001');
    assert.equal(at('console-a.lab.example'), 'console-a.lab.example:7001');
  });
});
