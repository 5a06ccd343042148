// The hardware key of a USB identity in a raw config table, shared by the
// kinds that can be USB hardware (a probe; a console adapter).
import { formatUsbId } from '../../config/usb-identity.js';
import type { HardwareKey } from './device-kind.js';

/**
 * A probe and its own VCOM console share an identity legitimately (the kind is
 * part of the key); the lab model makes their slots conflict instead.
 */
export function rawUsbHardware(
  kind: string,
  identity: Readonly<Record<string, unknown>>,
  at: PropertyKey[],
): HardwareKey | undefined {
  const { vid, pid, serial } = identity;
  if (typeof vid !== 'number' || typeof pid !== 'number' || typeof serial !== 'string') return undefined;
  const iface = typeof identity['interface'] === 'number' ? `/${identity['interface']}` : '';
  return {
    key: `${kind} ${formatUsbId(vid, pid)} ${serial}${iface}`,
    what: `USB ${formatUsbId(vid, pid)} serial "${serial}"`,
    at,
  };
}
