// A lab of many slots built from real parts, for the scale test and the sweep
// benchmark: per slot a console on a PTY with a responder, an IPv6 target in a
// network namespace, and two command checks (a quick one and a slower one, as
// a `humility probe` would be).
import type { Cleanup } from './cleanup.js';
import { ipv6Target } from './netns.js';
import { ptyPair, responder } from './pty-pair.js';

export const DEVICES_PER_SLOT = 4;

export async function scaleLabToml(t: Cleanup, dir: string, slots: number): Promise<string> {
  const target = ipv6Target(t);
  const addresses = target.addAddresses(slots);
  const parts: string[] = [
    '[health]\ninterval = "1h"\ntimeout = "10s"\nconcurrency = 256\nmin_free_disk = "1MiB"\nmin_available_memory = "1MiB"\n',
  ];
  for (let i = 0; i < slots; i++) {
    const pty = await ptyPair(t, dir, `console-${i}`);
    await responder(t, pty.peer, () => 'hubris> ');
    parts.push(
      `[devices.console-${i}]\nkind = "serial"\npath = "${pty.device}"\nprobe = { send = "\\r", expect = "hubris> ", timeout = "3s" }\n` +
        `[devices.net-${i}]\nkind = "ipv6"\naddress = "${addresses[i] ?? ''}"\n` +
        `[devices.quick-${i}]\nkind = "command"\nargv = ["true"]\n` +
        `[devices.probe-${i}]\nkind = "command"\nargv = ["sleep", "0.3"]\n` +
        `[slots.bench-${i}]\ntarget = "bench"\ndevices = ["console-${i}", "net-${i}", "quick-${i}", "probe-${i}"]\n`,
    );
  }
  return parts.join('');
}
