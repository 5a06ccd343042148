// udev itself applying labslot's rules, inside the QEMU USB lab guest
// (qemu-usb-lab.ts): the guest's systemd-udevd runs the host's udev 252 on
// real (emulated) USB devices, so its verdicts are those of a lab host. The
// guest is a throwaway VM, so `udevadm test` (which in 252 really changes
// nodes and links) and `udevadm trigger` may do what they do there.
//
// The shell program installs the rules in /run/udev/rules.d (the guest's /etc
// is the host's, read-only), optionally adds a HID function (CMSIS-DAP's
// transport) to one gadget so that it has a hidraw node, re-triggers every
// usb, tty and hidraw device, and prints tab-separated lines:
//   NODE  devname  mode  owner  group  vid:pid  serial   every usb device, ttyUSB/ttyACM and hidraw node
//   LINK  name  target                                   every /dev/labslot/* link, resolved
//   TEST  devname  line                                  `udevadm test --action=add` of each non-root-hub node
import { basename } from 'node:path';

export interface UdevGuestPlan {
  /** Host paths of rules files to install; the guest sees the host's root. */
  rules: readonly string[];
  /** A gadget (GadgetSpec.name) to give a HID function, bound again to this UDC. */
  hid?: { gadget: string; udc: string };
}

export interface GuestNode {
  devname: string;
  mode: string;
  owner: string;
  group: string;
  /** `0403:6001` of the USB device the node belongs to. */
  usbId: string;
  serial: string;
}

export interface UdevGuestReport {
  nodes: GuestNode[];
  /** /dev/labslot/NAME → the node it resolves to (e.g. `/dev/ttyUSB0`). */
  links: Map<string, string>;
  /** devname → the output of `udevadm test --action=add` for it. */
  tests: Map<string, string>;
}

function quote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

// A HID report descriptor as CMSIS-DAP v1 probes have: vendor page, 64-byte input and output reports.
const CMSIS_DAP_REPORT =
  '\\006\\000\\377\\011\\001\\241\\001\\025\\000\\046\\377\\000\\165\\010\\225\\100\\011\\001\\201\\002\\225\\100\\011\\001\\221\\002\\300';

function hidScript(hid: UdevGuestPlan['hid']): string {
  if (hid === undefined) return '';
  const g = `/sys/kernel/config/usb_gadget/${hid.gadget}`;
  const f = `${g}/functions/hid.usb0`;
  return `modprobe usb_f_hid && modprobe usbhid && modprobe hid-generic || fail "HID modules"
echo "" > ${g}/UDC
mkdir ${f} || fail "HID function"
echo 0 > ${f}/protocol; echo 0 > ${f}/subclass; echo 64 > ${f}/report_length
printf '${CMSIS_DAP_REPORT}' > ${f}/report_desc
ln -s ${f} ${g}/configs/c.1/
echo ${quote(hid.udc)} > ${g}/UDC || fail "bind ${hid.gadget} again"
`;
}

export function udevGuestScript(plan: UdevGuestPlan): string {
  const install = plan.rules.map(
    (file) => `cp ${quote(file)} /run/udev/rules.d/${quote(basename(file))} || fail "install ${basename(file)}"`,
  );
  return `set -u
fail() { echo "udev-guest: $*" >&2; exit 1; }
mkdir -p /run/udev/rules.d
${install.join('\n')}
udevadm control --reload || fail "reload"
${hidScript(plan.hid)}
udevadm trigger --action=add --subsystem-match=usb --subsystem-match=tty --subsystem-match=hidraw
udevadm settle --timeout=15 || fail "settle"
tab=$(printf '\\t')
# The USB device a sysfs device belongs to: itself or the nearest parent with an idVendor.
owner_of() { d=$(readlink -f "$1"); while [ "$d" != /sys ] && [ ! -f "$d/idVendor" ]; do d=\${d%/*}; done; echo "$d"; }
nodes=""
for d in /sys/bus/usb/devices/* /sys/class/tty/ttyUSB* /sys/class/tty/ttyACM* /sys/class/hidraw/hidraw*; do
  [ -f "$d/uevent" ] || continue
  name=$(sed -n 's/^DEVNAME=//p' "$d/uevent")
  [ -n "$name" ] || continue
  u=$(owner_of "$d")
  vid=$(cat "$u/idVendor" 2>/dev/null) || continue
  echo "NODE$tab$name$tab$(stat -c "%a$tab%U$tab%G" "/dev/$name")$tab$vid:$(cat "$u/idProduct")$tab$(cat "$u/serial" 2>/dev/null)"
  [ "$vid" = 1d6b ] || nodes="$nodes $d"
done
for l in /dev/labslot/*; do [ -L "$l" ] && echo "LINK$tab\${l##*/}$tab$(readlink -f "$l")"; done
for d in $nodes; do
  name=$(sed -n 's/^DEVNAME=//p' "$d/uevent")
  udevadm test --action=add "$d" 2>&1 | sed "s|^|TEST$tab$name$tab|"
done
exit 0
`;
}

export function parseUdevGuestReport(stdout: string): UdevGuestReport {
  const report: UdevGuestReport = { nodes: [], links: new Map(), tests: new Map() };
  for (const line of stdout.split('\n')) {
    const [kind, ...fields] = line.split('\t');
    if (kind === 'NODE') {
      const [devname = '', mode = '', owner = '', group = '', usbId = '', serial = ''] = fields;
      report.nodes.push({ devname, mode, owner, group, usbId, serial });
    } else if (kind === 'LINK') {
      report.links.set(fields[0] ?? '', fields[1] ?? '');
    } else if (kind === 'TEST') {
      const [devname = '', ...rest] = fields;
      report.tests.set(devname, `${report.tests.get(devname) ?? ''}${rest.join('\t')}\n`);
    }
  }
  return report;
}
