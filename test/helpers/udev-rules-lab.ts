// What both udev rules test files start from: the static rules file, a serial
// number udev must match literally, and a lab model written from TOML.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { LabModel } from '../../src/config/lab-model.js';
import { loadLabConfig } from '../../src/devices/load-lab-config.js';
import { PROJECT_ROOT } from './cli.js';
import { tempDir } from './temp-dir.js';

export const STATIC_NAME = '72-labslot.rules';
export const STATIC_FILE = join(PROJECT_ROOT, 'udev', STATIC_NAME);

/** Glob characters, a space, `$` and `%`: all must be matched literally. */
export const SP_SERIAL = 'SP*1[x] $k%';
/** The SP's probe and its VCOM, both matched by vid, pid and that serial: in every lab these tests configure. */
export const SP_DEVICES = `[devices.sp-probe]
kind = "usb"
vid = 0x1fc9
pid = 0x0143
serial = "${SP_SERIAL}"
[devices.sp-vcom]
kind = "serial"
usb = { vid = 0x1fc9, pid = 0x0143, serial = "${SP_SERIAL}" }`;
/** The start of a slot whose devices list follows. */
export const SLOT = `[slots.a]\ntarget = "t"\ndevices = `;

/** The config file written from `toml`, and its lab model (loaded when asked, so a test can expect it to throw). */
export function labFrom(t: TestContext, toml: string): { file: string; lab: () => LabModel } {
  const file = join(tempDir(t, 'labslot-udev-'), 'slots.toml');
  writeFileSync(file, toml);
  return { file, lab: () => loadLabConfig(file) };
}
