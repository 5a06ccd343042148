// The demo lab's slots.toml: real config, commented for someone reading their
// first labslot config. Three slots of one target; demo-2 and demo-3 share a
// PDU outlet, so they conflict and are never leased at once.
import type { ListenAddress } from '../config/schema.js';

export const DEMO_TARGET = 'demo-board';
export const DEMO_SLOTS = ['demo-1', 'demo-2', 'demo-3'] as const;
export type DemoSlot = (typeof DEMO_SLOTS)[number];
/** What the emulated SP console prints, and what the serial probe expects. */
export const DEMO_PROMPT = 'hubris> ';

export interface DemoConfigParts {
  /** The PTY each slot's console check opens. */
  consoles: Record<DemoSlot, string>;
  pdudaemonUrl: string;
  pdu: string;
  namespace: string;
  /** The host's end of the veth pair: link-local addresses are scoped to it. */
  hostInterface: string;
  /** demo-1's and demo-3's global addresses; demo-2 uses the link-local one. */
  globalAddresses: [string, string];
  linkLocalAddress: string;
  operatorHash: string;
  submitterHash: string;
  /** Written into the file unless the port is 0 (then only the command line has it). */
  listen: ListenAddress;
}

const q = (text: string): string => JSON.stringify(text);

export function demoConfigToml(parts: DemoConfigParts): string {
  const listen = parts.listen.host.includes(':')
    ? `[${parts.listen.host}]:${parts.listen.port}`
    : `${parts.listen.host}:${parts.listen.port}`;
  const net: Record<DemoSlot, string> = {
    'demo-1': `address = ${q(parts.globalAddresses[0])}`,
    // Link-local addresses need the interface: the same fe80:: address may exist on every link.
    'demo-2': `address = ${q(parts.linkLocalAddress)}\ninterface = ${q(parts.hostInterface)}`,
    'demo-3': `address = ${q(parts.globalAddresses[1])}`,
  };
  const devices = DEMO_SLOTS.map(
    (slot) => `[devices.${slot}-console]
# The SP console: a socat PTY pair with a responder on the far end playing the Hubris prompt.
kind = "serial"
path = ${q(parts.consoles[slot])}
# Active check, only while the slot is idle: send a carriage return, expect the prompt.
probe = { send = "\\r", expect = ${q(DEMO_PROMPT)}, timeout = "3s" }

[devices.${slot}-net]
# The SP's management address, inside network namespace ${parts.namespace}.
kind = "ipv6"
${net[slot]}

[devices.${slot}-tty-check]
# Any check a program can do (a real lab runs humility probe): exit 0 means healthy.
kind = "command"
argv = ["test", "-c", "{tty}"]
`,
  );
  return `# labslot demo lab, written by \`labslot demo\`. Every device is emulated on this
# machine, and the demo removes all of it when it stops. See slots.example.toml
# for a real lab host, and README.md ("Configuration reference") for every key.

[agent]
name = "labslot-demo"
# Database, job logs and worker directories; relative to this file.
state_dir = "state"
${parts.listen.port === 0 ? '# listen: the demo picked a free port (see its output).' : `listen = ${q(listen)}`}

[auth]
# SHA-256 hashes of the tokens the demo printed (printf %s TOKEN | sha256sum); never the tokens.
# Operators hold, release and check slots.
operators = [${q(parts.operatorHash)}]
# Submitters run jobs.
submitters = [${q(parts.submitterHash)}]

[health]
# Checked every 10 s, and right before every lease. One bad result makes a device unhealthy
# here (a real lab wants 3), one good one makes it healthy again.
interval = "10s"
timeout = "5s"
failure_threshold = 1
success_threshold = 1
# A demo on a small machine: do not refuse jobs for want of disk or memory.
min_free_disk = "64MiB"
min_available_memory = "64MiB"

[jobs]
timeout = "10m"
# Ctrl-C gives running jobs this long after SIGTERM.
stop_grace = "2s"
limits = { memory = "512MiB", pids = 256 }

# ---------------------------------------------------------------------------
# Devices. A device listed by two slots is shared, and those slots conflict.
# ---------------------------------------------------------------------------

${devices.join('\n')}
[devices.demo-1-power]
# Outlet 1 of PDU ${q(parts.pdu)}, switched through a real pdudaemon (its outlet
# commands append to pdu/outlets.log next to this file).
kind = "power"
driver = "pdudaemon"
url = ${q(parts.pdudaemonUrl)}
pdu = ${q(parts.pdu)}
port = 1

[devices.demo-23-power]
# Outlet 2 feeds the bench of demo-2 and demo-3: power-cycling one board would cut
# the other, so the two slots share this device and are never leased at once.
kind = "power"
driver = "pdudaemon"
url = ${q(parts.pdudaemonUrl)}
pdu = ${q(parts.pdu)}
port = 2

# ---------------------------------------------------------------------------
# Slots: jobs ask for the target; any free, healthy, unheld slot of it runs them.
# ---------------------------------------------------------------------------

[slots.demo-1]
target = "${DEMO_TARGET}"
devices = ["demo-1-console", "demo-1-net", "demo-1-tty-check", "demo-1-power"]
env = { DEMO_BOARD = "board-1" }

[slots.demo-2]
target = "${DEMO_TARGET}"
devices = ["demo-2-console", "demo-2-net", "demo-2-tty-check", "demo-23-power"]
env = { DEMO_BOARD = "board-2" }

[slots.demo-3]
target = "${DEMO_TARGET}"
devices = ["demo-3-console", "demo-3-net", "demo-3-tty-check", "demo-23-power"]
env = { DEMO_BOARD = "board-3" }
`;
}
