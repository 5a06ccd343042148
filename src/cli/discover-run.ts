// What `labslot discover` does once its arguments are parsed: read what is on
// the USB bus from sysfs (no device is opened), match it against the config if
// there is one, and print a table, JSON or TOML stanzas. The config is found as
// for every command (-c, $LABSLOT_CONFIG, /etc/labslot/slots.toml), except that
// a host without the default file is simply not configured yet: discover is
// how one starts writing it. A config named by -c or $LABSLOT_CONFIG must load.
import { existsSync } from 'node:fs';
import type { LabModel } from '../config/lab-model.js';
import { DEFAULT_CONFIG_PATH } from '../config/load-config.js';
import { hex4 } from '../config/usb-identity.js';
import { discover, type Discovery, type DiscoveredDevice } from '../devices/discover.js';
import { stanzasToml, suggestStanzas, type Stanza } from '../devices/discover-stanzas.js';
import { readUsbInventory } from '../devices/usb-inventory.js';
import type { DiscoverOptions } from './discover.js';
import { EXIT_OK } from './exit-codes.js';
import { formatTable } from './format-table.js';
import { loadLab } from './load-lab.js';

/** Prints the discovery; the exit code is 0 (a bad config throws, and exits 2). */
export function discoverOnce(options: DiscoverOptions): number {
  const lab = configuredLab(options);
  const discovery = discover(readUsbInventory(), lab);
  const stanzas = suggestStanzas(discovery, lab?.devices.keys() ?? []);
  if (options.toml === true) process.stdout.write(stanzasToml(stanzas, lab?.file));
  else if (options.json === true)
    process.stdout.write(`${JSON.stringify(discoveryJson(discovery, stanzas, lab !== undefined), null, 2)}\n`);
  else process.stdout.write(discoveryTable(discovery, lab !== undefined));
  return EXIT_OK;
}

function configuredLab(options: DiscoverOptions): LabModel | undefined {
  const named = options.config ?? (process.env['LABSLOT_CONFIG'] || undefined);
  if (named === undefined && !existsSync(DEFAULT_CONFIG_PATH)) return undefined;
  return loadLab({ config: named ?? DEFAULT_CONFIG_PATH });
}

/** `configured`: whether a config was read; without one, `configured_as` is null (unknown), not empty. */
export function discoveryJson(discovery: Discovery, stanzas: readonly Stanza[], configured: boolean): unknown {
  return {
    devices: discovery.devices.map((d) => ({
      usb_path: d.usbPath,
      node: d.node,
      bus: d.busNumber,
      address: d.deviceAddress,
      vid: hex4(d.vid),
      pid: hex4(d.pid),
      serial: d.serial,
      manufacturer: d.manufacturer,
      product: d.product,
      model: d.model?.name ?? null,
      class: d.model?.class ?? (d.ttys.length > 0 ? 'serial-adapter' : null),
      ttys: d.ttys.map((t) => ({ tty: t.node, interface: t.interface ?? null, by_id: t.byId, by_path: t.byPath })),
      configured_as: configured ? d.configuredAs : null,
      // The name --toml gives it (its first stanza that is not commented out), for scripts that append them.
      suggested_name: stanzas.find((s) => s.usbPath === d.usbPath && !s.commented)?.name ?? null,
    })),
    absent: discovery.absent,
  };
}

function discoveryTable(discovery: Discovery, configured: boolean): string {
  const header = ['USB', 'NODE', 'ID', 'SERIAL', 'MODEL', 'PRODUCT', 'TTY', 'BY-ID'];
  const row = (d: DiscoveredDevice): string[] => [
    d.usbPath,
    d.node,
    `${hex4(d.vid)}:${hex4(d.pid)}`,
    d.serial ?? '-',
    d.model?.name ?? '-',
    [d.manufacturer, d.product].filter((s) => s !== null && s !== '').join(' ') || '-',
    d.ttys.map((t) => t.node).join(',') || '-',
    d.ttys.map((t) => t.byId ?? '-').join(',') || '-',
  ];
  let out =
    discovery.devices.length === 0
      ? 'No debug probe or serial adapter is plugged in.\n'
      : formatTable(
          [
            configured ? [...header, 'CONFIGURED AS'] : header,
            ...discovery.devices.map((d) =>
              configured ? [...row(d), d.configuredAs.map((c) => c.device).join(',') || '-'] : row(d),
            ),
          ].map((cells) => cells.map(oneLine)),
        );
  if (discovery.absent.length > 0) {
    out += `\nConfigured but not plugged in:\n${formatTable([
      ['DEVICE', 'KIND', 'WHAT', 'SLOTS'],
      ...discovery.absent.map((a) => [a.device, a.kind, a.what, a.slots.join(',') || '-']),
    ])}`;
  }
  return out;
}

/** USB strings are the device's to choose: control characters would break the table or the terminal. */
function oneLine(text: string): string {
  return text.replace(/\p{Cc}/gu, '?');
}
