// Which debug probe or serial adapter a USB device is, by vid:pid (or, for a
// CMSIS-DAP probe of any vendor, by its product string), for `labslot discover`:
// the model names a person reads in its table and the stem of the device names
// it suggests. Only identity is used: nothing here opens a device.
import { hex4 } from '../config/usb-identity.js';

/** What a device is for labslot: a probe becomes a `usb` device, an adapter a `serial` console. */
export type ModelClass = 'probe' | 'serial-adapter';

export interface ProbeModel {
  /** As people write it: "MCU-Link", "FTDI FT232R". */
  name: string;
  /** The stem of suggested device names: lowercase letters, digits and dashes, starting with a letter. */
  slug: string;
  class: ModelClass;
}

interface KnownModel extends ProbeModel {
  vid: number;
  /** Undefined: every product of the vendor (SEGGER makes only J-Links, under many pids). */
  pid?: number;
}

const probe = (vid: number, pid: number | undefined, name: string, slug: string): KnownModel => ({
  vid,
  ...(pid === undefined ? {} : { pid }),
  name,
  slug,
  class: 'probe',
});
const adapter = (vid: number, pid: number, name: string, slug: string): KnownModel => ({
  vid,
  pid,
  name,
  slug,
  class: 'serial-adapter',
});

const KNOWN: readonly KnownModel[] = [
  probe(0x1fc9, 0x0143, 'MCU-Link', 'mcu-link'),
  probe(0x0483, 0x3748, 'ST-Link/V2', 'st-link'),
  probe(0x0483, 0x374b, 'ST-Link/V2-1', 'st-link'),
  probe(0x0483, 0x374e, 'STLINK-V3', 'st-link'),
  probe(0x1366, undefined, 'J-Link', 'j-link'),
  adapter(0x0403, 0x6001, 'FTDI FT232R', 'ftdi'),
  adapter(0x0403, 0x6010, 'FTDI FT2232', 'ftdi'),
  adapter(0x0403, 0x6011, 'FTDI FT4232', 'ftdi'),
  adapter(0x0403, 0x6014, 'FTDI FT232H', 'ftdi'),
  adapter(0x0403, 0x6015, 'FTDI FT-X', 'ftdi'),
  adapter(0x10c4, 0xea60, 'CP210x', 'cp210x'),
  adapter(0x10c4, 0xea70, 'CP2105', 'cp210x'),
  adapter(0x1a86, 0x7523, 'CH340', 'ch34x'),
  adapter(0x1a86, 0x55d4, 'CH9102', 'ch34x'),
  adapter(0x067b, 0x2303, 'PL2303', 'pl2303'),
];

const CMSIS_DAP: ProbeModel = { name: 'CMSIS-DAP', slug: 'cmsis-dap', class: 'probe' };

/**
 * The model of a device, or undefined for one labslot does not know. The
 * vid:pid table comes first: an MCU-Link calls itself "... CMSIS-DAP ..." too,
 * and its own name says more.
 */
export function probeModel(vid: number, pid: number, product: string | null): ProbeModel | undefined {
  const known = KNOWN.find((m) => m.vid === vid && (m.pid === undefined || m.pid === pid));
  if (known !== undefined) return { name: known.name, slug: known.slug, class: known.class };
  // CMSIS-DAP's specification asks every such probe to name itself so in the product string (debuggers find it that way).
  if (product !== null && product.includes('CMSIS-DAP')) return CMSIS_DAP;
  return undefined;
}

/** A name stem for a device of no known model: "usb-serial" for one with a tty, else its vid and pid. */
export function unknownModelSlug(vid: number, pid: number, hasTty: boolean): string {
  return hasTty ? 'usb-serial' : `usb-${hex4(vid)}-${hex4(pid)}`;
}
