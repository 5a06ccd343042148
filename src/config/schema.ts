// The zod schema of slots.toml: the single source of truth for what a lab
// config may contain. Every object is strict, because a typo in a lab config
// ("devcies", "baudrate") must be an error, never a silently ignored key.
// Checks that relate several parts of the file live in cross-check.ts.
import { isIP, isIPv6 } from 'node:net';
import { z } from 'zod';
import { formatDuration, parseDuration } from './duration.js';
import { parseSize } from './size.js';
import { envName } from './env-names.js';
import { parseArchive } from './humility-archive.js';
import { parseNetworkAddress } from './network-address.js';

export const NAME_PATTERN = /^[a-z0-9][a-z0-9-]*$/;
export const NAME_MAX = 48;

/** Slot, device and target names: they end up in user names, env vars and URLs. */
export const name = z
  .string()
  .max(NAME_MAX, { error: `must be at most ${NAME_MAX} characters` })
  .regex(NAME_PATTERN, { error: 'must match [a-z0-9][a-z0-9-]* (lowercase letters, digits, dashes)' });

// Unix user and group names as useradd accepts them by default.
const unixName = z
  .string()
  .regex(/^[a-z_][a-z0-9_-]*\$?$/, { error: 'is not a valid Unix user or group name' })
  .max(32);

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * A duration with an upper bound, named in the error. Every duration has one: Node's timers hold at most
 * 2^31-1 ms (about 24.8 days) and fire after 1 ms beyond it, so "25d" would make a check fail at once or
 * a stop skip its grace.
 */
export function durationUpTo(maxMs: number): z.ZodPipe<z.ZodString, z.ZodTransform<number, string>> {
  if (maxMs >= 2 ** 31) throw new RangeError(`${maxMs} ms is more than a timer holds`);
  return z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    let message: string | undefined;
    if (ms === undefined) message = `"${text}" is not a duration (use e.g. "500ms", "30s", "10m", "1h30m")`;
    else if (ms === 0) message = 'must be longer than zero';
    else if (!(ms <= maxMs)) message = `"${text}" is too long: at most ${formatDuration(maxMs)}`;
    if (message === undefined) return ms as number;
    ctx.issues.push({ code: 'custom', input: text, message });
    return z.NEVER;
  });
}

/** Device check and probe timeouts: a check that needs longer is hung. */
export const duration = durationUpTo(HOUR);

export const size = z.string().transform((text, ctx) => {
  const bytes = parseSize(text);
  if (bytes === undefined || bytes <= 0) {
    const message =
      bytes === undefined ? `"${text}" is not a size (use e.g. "512MiB", "4GiB", "1GB")` : 'must be greater than zero';
    ctx.issues.push({ code: 'custom', input: text, message });
    return z.NEVER;
  }
  return bytes;
});

// A job's own filesystem needs room for its metadata: below 1MiB there is none left for files.
const diskSize = size.refine((bytes) => bytes >= 2 ** 20, { error: 'must be at least 1MiB' });

const u16 = z
  .int()
  .min(0, { error: 'must be between 0 and 0xffff' })
  .max(0xffff, { error: 'must be between 0 and 0xffff' });
const positiveInt = z.int().positive();
const argv = z.array(z.string().min(1)).min(1, { error: 'must name a program: ["program", "arg", ...]' });
const description = z.string().max(200).optional();

/** What recovery may try on a failing device, in order (DESIGN §9): README "Recovery". */
export const RECOVERY_STEPS = ['power-cycle', 'usb-reset', 'usb-rebind', 'command'] as const;
export type RecoveryStep = (typeof RECOVERY_STEPS)[number];
const recoverySteps = z
  .array(z.enum(RECOVERY_STEPS))
  .refine((steps) => new Set(steps).size === steps.length, { error: 'lists a step twice' });

/** Every device (and slot) may say how to recover it; `recover_command` is the argv of its "command" step. */
const recoveryKeys = { recover: recoverySteps.optional(), recover_command: argv.optional() };

/** A USB device identity: what a probe or adapter reports on the bus. */
export const usbIdentity = {
  vid: u16,
  pid: u16,
  serial: z
    .string()
    .min(1, { error: 'must not be empty: without a serial, two probes of one model cannot be told apart' }),
};

/** A probe's Hubris archive for HUMILITY_ENVIRONMENT: one host path, or named host paths (humility-archive.ts). */
const hostArchive = z.unknown().transform((value, ctx) => {
  const parsed = parseArchive(value, 'host');
  if (parsed.ok) return parsed.archive;
  for (const issue of parsed.issues)
    ctx.issues.push({ code: 'custom', input: value, path: issue.path, message: issue.message });
  return z.NEVER;
});

const usbDevice = z
  .strictObject({
    kind: z.literal('usb'),
    description,
    ...recoveryKeys,
    ...usbIdentity,
    role: z.enum(['sp-probe', 'rot-probe', 'probe', 'other']).default('probe'),
    archive: hostArchive.optional(),
  })
  .refine((d) => d.role !== 'other' || d.archive === undefined, {
    error:
      'a device with role "other" is not in HUMILITY_ENVIRONMENT, so it has no archive: make it a probe or drop the archive',
    path: ['archive'],
  });

const serialProbe = z.strictObject({
  send: z.string().default(''),
  expect: z.string().min(1).refine(isValidRegExp, { error: 'is not a valid regular expression' }),
  timeout: duration.prefault('2s'),
});

const serialDevice = z
  .strictObject({
    kind: z.literal('serial'),
    description,
    ...recoveryKeys,
    path: z.string().startsWith('/', { error: 'must be an absolute path such as /dev/serial/by-id/...' }).optional(),
    usb: z.strictObject({ ...usbIdentity, interface: z.int().min(0).max(255).optional() }).optional(),
    baud: positiveInt.max(4_000_000).default(115_200),
    probe: serialProbe.optional(),
  })
  .refine((d) => (d.path === undefined) !== (d.usb === undefined), {
    error: 'set exactly one of "path" or "usb" to say where the console is',
  });

const pdudaemonPower = z.strictObject({
  kind: z.literal('power'),
  description,
  ...recoveryKeys,
  driver: z.literal('pdudaemon'),
  url: z.url({ protocol: /^https?$/, error: 'must be an http:// URL of pdudaemon' }).default('http://127.0.0.1:16421'),
  pdu: z.string().min(1),
  port: positiveInt,
  delay: duration.optional(),
});

const commandPower = z.strictObject({
  kind: z.literal('power'),
  description,
  ...recoveryKeys,
  driver: z.literal('command'),
  on: argv,
  off: argv,
  status: argv,
});

const ipv6Address = z
  .string()
  .refine((a) => !a.includes('%'), { error: 'must not carry a zone ("%eth0"): set "interface" instead' })
  .refine((a) => a.includes('%') || isIPv6(a), { error: 'is not an IPv6 address' });

const ipv6Device = z
  .strictObject({
    kind: z.literal('ipv6'),
    description,
    ...recoveryKeys,
    address: ipv6Address,
    interface: z
      .string()
      .regex(/^[^\s/%]{1,15}$/, { error: 'is not a network interface name' })
      .optional(),
    tcp_port: z.int().min(1).max(65_535).optional(),
  })
  .refine((d) => !isLinkLocal(d.address) || d.interface !== undefined, {
    error: 'a link-local address (fe80::/10) needs "interface" to say which link it is on',
    path: ['interface'],
  });

// A host name (RFC 1123 labels) or an IPv4/IPv6 literal, without brackets: the port is its own key.
const networkHost = z
  .string()
  .refine(
    (h) =>
      isIP(h) !== 0 ||
      /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(
        h,
      ),
    {
      error: 'must be a host name or an IP address, without brackets or port (set "port")',
    },
  );

// A serial console over TCP (ser2net, a console server); its probe keys are a serial console's.
const consoleServerDevice = z.strictObject({
  kind: z.literal('console-server'),
  description,
  ...recoveryKeys,
  host: networkHost,
  port: z.int().min(1).max(65_535),
  probe: serialProbe.optional(),
});

const commandDevice = z.strictObject({
  kind: z.literal('command'),
  description,
  ...recoveryKeys,
  argv,
  timeout: duration.optional(),
  user: unixName.optional(),
});

export const device = z.discriminatedUnion('kind', [
  usbDevice,
  serialDevice,
  z.discriminatedUnion('driver', [pdudaemonPower, commandPower]),
  ipv6Device,
  commandDevice,
  consoleServerDevice,
]);

const limits = z.strictObject({
  memory: size.optional(),
  pids: positiveInt.optional(),
  cpu: z.number().positive().max(1024).optional(),
  shm: size.optional(),
  disk: diskSize.optional(),
});

// Job-wide defaults: each limit defaults on its own, so setting one keeps the others.
const jobLimits = z.strictObject({
  memory: size.prefault('2GiB'),
  pids: positiveInt.default(4096),
  // A job's own /dev/shm (POSIX shared memory, Python's multiprocessing); its pages count as the job's memory too.
  shm: size.prefault('64MiB'),
  // All of a job's writable space (home, /work, /tmp, /var/tmp, outputs): one filesystem of this size, reserved at its start.
  disk: diskSize.prefault('4GiB'),
  cpu: z.number().positive().max(1024).optional(),
});

const slot = z.strictObject({
  target: name,
  description,
  devices: z.array(z.string()).min(1, { error: 'a slot needs at least one device' }),
  add_to_groups: z.array(unixName).default([]),
  conflicts_with_slots: z.array(z.string()).default([]),
  env: z.record(envName, z.string()).default({}),
  limits: limits.prefault({}),
  // What the slot's outlets are left at once a job's cleanup has finished; "as-is" switches nothing.
  power_after_job: z.enum(['on', 'off', 'as-is']).default('as-is'),
  // Recovery of its devices that set none of their own, and the argv of its "command" step.
  ...recoveryKeys,
  // After a job's mark-broken: hold at once, or first try recovery and hold only if it fails. Default: [recovery]'s.
  on_mark_broken: z.enum(['hold', 'recover-then-hold']).optional(),
});

const tokenHash = z.string().regex(/^[0-9a-f]{64}$/, {
  error:
    'must be the SHA-256 of a token as 64 lowercase hex characters (printf %s TOKEN | sha256sum), never the token itself',
});

export const listen = z.string().transform((text, ctx) => {
  const parsed = parseListen(text);
  if (parsed === undefined) {
    ctx.issues.push({
      code: 'custom',
      input: text,
      message: `"${text}" is not host:port (e.g. "127.0.0.1:8421", "[::1]:8421")`,
    });
    return z.NEVER;
  }
  return parsed;
});

const networkAddress = z.string().transform((text, ctx) => {
  const parsed = parseNetworkAddress(text);
  if ('error' in parsed) {
    ctx.issues.push({ code: 'custom', input: text, message: parsed.error });
    return z.NEVER;
  }
  return parsed;
});

const agentUrlSetting = z.url({
  protocol: /^https?$/,
  error: 'must be an http:// or https:// URL, e.g. "https://lab-host-1.example:8421"',
});

/** A postgres:// URL without a password: the password lives in database_file, never in the TOML. */
const databaseUrl = z.string().transform((text, ctx) => {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  let message: string | undefined;
  if (url === undefined || !/^postgres(ql)?:$/.test(url.protocol))
    message = 'must be a postgres:// URL, e.g. "postgres://labslot@db.lab.example/labslot"';
  else if (url.password !== '')
    message = 'holds a password: keep it out of the config, in the file that database_file names';
  if (message === undefined) return text;
  ctx.issues.push({ code: 'custom', input: text, message });
  return z.NEVER;
});

const labSettings = z.strictObject({
  database: databaseUrl,
  // A file (mode 0600) holding the database password, read at start.
  database_file: z.string().min(1).optional(),
  // A host whose heartbeat is older than this is offline: its slots take nothing.
  host_timeout: durationUpTo(HOUR).prefault('30s'),
  // The CA that signed the other agents' certificates (PEM); Node's default CAs otherwise.
  ca: z.string().min(1).optional(),
  // Plain HTTP between hosts sends every token in clear; allowed only when named this loudly.
  insecure_plain_http_sends_tokens_in_clear: z.boolean().default(false),
});

export const configSchema = z.strictObject({
  agent: z
    .strictObject({
      name: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {
          error: 'must be a host-like name: letters, digits, ".", "_", "-"',
        })
        .optional(),
      state_dir: z.string().min(1).default('/var/lib/labslot'),
      listen: listen.prefault('127.0.0.1:8421'),
      // How other hosts and clients reach this agent (a lab advertises it); by default the URL of `listen`.
      url: agentUrlSetting.optional(),
      // HTTPS on `listen`: PEM files, read at start.
      tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
    })
    .prefault({}),
  // A lab of many hosts sharing one PostgreSQL database (DESIGN §7); absent: this host alone, on SQLite.
  lab: labSettings.optional(),
  auth: z
    .strictObject({
      operators: z.array(tokenHash).default([]),
      submitters: z.array(tokenHash).default([]),
    })
    .prefault({}),
  health: z
    .strictObject({
      interval: durationUpTo(DAY).prefault('30s'),
      timeout: duration.prefault('10s'),
      failure_threshold: positiveInt.max(100).default(3),
      success_threshold: positiveInt.max(100).default(2),
      history: positiveInt.max(100_000).default(500),
      concurrency: positiveInt.max(1024).default(64),
      min_free_disk: size.prefault('1GiB'),
      min_available_memory: size.prefault('256MiB'),
    })
    .prefault({}),
  jobs: z
    .strictObject({
      // A week is more than any lab job needs (and timers hold at most 24.8 days).
      timeout: durationUpTo(7 * DAY).prefault('1h'),
      stop_grace: duration.prefault('10s'),
      max_output: size.prefault('1GiB'),
      max_input: size.prefault('1GiB'),
      max_outputs: size.prefault('1GiB'),
      limits: jobLimits.prefault({}),
      // "slot": each job reaches only its slot's targets, the agent and network_allow (README "Network policy"); "host": the host's network as is.
      network: z.enum(['slot', 'host']).default('slot'),
      network_allow: z.array(networkAddress).default([]),
      // Make each busy slot's next worker while its job runs (src/jobs/worker-spares.ts): leases skip user and disk creation.
      prepare_ahead: z.boolean().default(true),
    })
    .prefault({}),
  recovery: z
    .strictObject({
      // Rounds of a slot's recovery steps allowed per window; past them, the slot is held.
      max_attempts: positiveInt.max(100).default(3),
      window: durationUpTo(7 * DAY).prefault('1h'),
      // After a power cycle, before the re-check: the time the device needs to boot.
      boot_wait: duration.prefault('10s'),
      // One step (a USB reset, a command) that takes longer has failed.
      step_timeout: duration.prefault('30s'),
      // A device whose health changes more than this often within flap_window is held as flapping.
      flap_threshold: positiveInt.max(1000).default(8),
      flap_window: durationUpTo(7 * DAY).prefault('15m'),
      on_mark_broken: z.enum(['hold', 'recover-then-hold']).default('hold'),
    })
    .prefault({}),
  devices: z.record(name, device).default({}),
  slots: z
    .record(name, slot)
    .refine((s) => Object.keys(s).length > 0, { error: 'at least one [slots.NAME] table is required' }),
});

export type RawConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type DeviceSpec = z.output<typeof device>;
export type SlotSpec = z.output<typeof slot>;
export type Limits = z.output<typeof limits>;
export type LabSettings = z.output<typeof labSettings>;
export interface ListenAddress {
  host: string;
  port: number;
}

function isValidRegExp(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

export function isLinkLocal(address: string): boolean {
  // A zoned address is reported as such by the address check; do not pile a second error on it.
  return /^fe[89ab][0-9a-f]:/i.test(address) && !address.includes('%') && isIPv6(address);
}

/** `allowAnyPort` accepts port 0 (the kernel picks one): fine on a command line, a mistake in a config. */
export function parseListen(text: string, { allowAnyPort = false } = {}): ListenAddress | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const host = match[1] ?? match[2];
  const port = Number(match[3]);
  if (host === undefined || port < (allowAnyPort ? 0 : 1) || port > 65_535) return undefined;
  if (match[1] !== undefined && !isIPv6(host)) return undefined;
  return { host, port };
}
