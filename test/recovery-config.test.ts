// `labslot config validate` refuses recovery steps a device could never take
// (README "Recovery"), naming the key path and exiting 2: found when the config
// is written, not when a testbed is already failing.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/temp-dir.js';

const CONSOLE = '[devices.con]\nkind = "serial"\npath = "/dev/ttyUSB0"\n';

const CASES = [
  {
    what: '"power-cycle" on a slot without a power device',
    toml: `${CONSOLE}[slots.s1]\ntarget = "t"\ndevices = ["con"]\nrecover = ["power-cycle"]\n`,
    line: /^\S*slots\.toml:\d+: slots\.s1\.recover\[0\]: "power-cycle" needs a power device in slot s1, and it has none$/m,
  },
  {
    what: '"usb-reset" on a console given by path',
    toml: `[devices.con]\nkind = "serial"\npath = "/dev/ttyUSB0"\nrecover = ["usb-reset"]\n[slots.s1]\ntarget = "t"\ndevices = ["con"]\n`,
    line: /^\S*slots\.toml:\d+: devices\.con\.recover\[0\]: "usb-reset" needs USB hardware labslot can find by vid\/pid\/serial, and con is not/m,
  },
  {
    what: '"command" with no recover_command anywhere',
    toml: `${CONSOLE}[slots.s1]\ntarget = "t"\ndevices = ["con"]\nrecover = ["command"]\n`,
    line: /^\S*slots\.toml:\d+: slots\.s1\.recover\[0\]: "command" needs recover_command \(on con or on slot s1\): the program to run$/m,
  },
] as const;

describe('recovery in config validate', () => {
  for (const { what, toml, line } of CASES)
    it(`refuses ${what}, naming the key, with exit 2`, async (t) => {
      const file = join(tempDir(t), 'slots.toml');
      writeFileSync(file, `[agent]\nstate_dir = "state"\n${toml}`);
      const result = await runCli(['config', 'validate', '-c', file]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, line);
      assert.match(result.stderr, /^labslot: configuration rejected \(1 problem\)$/m);
    });

  it('accepts each step where the device can take it', async (t) => {
    const file = join(tempDir(t), 'slots.toml');
    writeFileSync(
      file,
      '[agent]\nstate_dir = "state"\n' +
        '[devices.con]\nkind = "serial"\nusb = { vid = 0x0403, pid = 0x6001, serial = "FT1" }\nrecover = ["usb-reset", "usb-rebind"]\n' +
        '[devices.pwr]\nkind = "power"\ndriver = "pdudaemon"\npdu = "pdu-1"\nport = 1\n' +
        '[slots.s1]\ntarget = "t"\ndevices = ["con", "pwr"]\nrecover = ["power-cycle", "command"]\nrecover_command = ["/bin/true"]\n',
    );
    const result = await runCli(['config', 'validate', '-c', file]);
    assert.equal(result.code, 0, result.stderr);
  });
});
