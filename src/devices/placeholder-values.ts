// Values for a command check's `{tty}`, `{usb_node}`, `{address}`: the first
// device of the slot using the check whose kind fills that placeholder (an
// SP probe first for `{usb_node}`), or the one `{tty:NAME}` names. The value
// is what the job would see for that device.
import type { LabModel } from '../config/lab-model.js';
import { withArticle } from '../words.js';
import type { PlaceholderResolver } from './command-check.js';
import { kindOf, kindsFilling } from './kinds/registry.js';
import type { UsbDeviceInfo } from './usb-bus.js';

export function placeholderResolver(
  lab: LabModel,
  commandDevice: string,
  usb: () => Promise<UsbDeviceInfo[]>,
): PlaceholderResolver {
  const slotName = lab.devices.get(commandDevice)?.usedBy[0];
  const slot = slotName !== undefined ? lab.slots.get(slotName) : undefined;
  const fills = (device: string, placeholder: string): boolean => {
    const spec = lab.devices.get(device)?.spec;
    return spec !== undefined && kindOf(spec).placeholder === placeholder;
  };
  const isSpProbe = (device: string): boolean => {
    const spec = lab.devices.get(device)?.spec;
    return spec !== undefined && kindOf(spec).humilityProbe(spec)?.role === 'sp-probe';
  };
  return async (placeholder, named) => {
    const candidates = named !== undefined ? [named] : (slot?.devices ?? []).filter((d) => fills(d, placeholder));
    candidates.sort((a, b) => Number(isSpProbe(b)) - Number(isSpProbe(a)));
    const deviceName = candidates[0];
    const spec = deviceName !== undefined ? lab.devices.get(deviceName)?.spec : undefined;
    const wanted = kindsFilling(placeholder).join(' or ');
    if (deviceName === undefined || spec === undefined || !fills(deviceName, placeholder)) {
      return {
        missing:
          named !== undefined
            ? `"${named}" is not ${withArticle(wanted)} device`
            : `slot ${slotName ?? '(none)'} has no ${wanted} device`,
      };
    }
    const kind = kindOf(spec);
    const node = await kind.node(spec, usb);
    if ('missing' in node) return { missing: node.missing };
    const value = kind.env(spec, node.node);
    return value !== undefined ? { value } : { missing: `${deviceName} has no value for {${placeholder}}` };
  };
}
