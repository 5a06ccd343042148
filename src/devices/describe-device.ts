// One-line human descriptions of devices, for tables, the API and messages.
import { formatUsbId } from '../config/usb-identity.js';
import type { DeviceSpec } from '../config/schema.js';

export function describeDevice(spec: DeviceSpec): string {
  switch (spec.kind) {
    case 'usb':
      return `usb ${formatUsbId(spec.vid, spec.pid)} serial ${spec.serial}`;
    case 'serial':
      return spec.path !== undefined
        ? `serial ${spec.path} @${spec.baud}`
        : `serial usb ${formatUsbId(spec.usb?.vid ?? 0, spec.usb?.pid ?? 0)} serial ${spec.usb?.serial ?? ''} @${spec.baud}`;
    case 'power':
      return spec.driver === 'pdudaemon' ? `power pdudaemon ${spec.pdu} port ${spec.port}` : `power command ${spec.status.join(' ')}`;
    case 'ipv6':
      return `ipv6 ${spec.address}${spec.interface !== undefined ? `%${spec.interface}` : ''}${spec.tcp_port !== undefined ? ` tcp/${spec.tcp_port}` : ''}`;
    case 'command':
      return `command ${spec.argv.join(' ')}`;
  }
}
