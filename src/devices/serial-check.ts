// serial consoles. Passive: the node (or the by-id link) resolves to a
// character device. Active: open it with an exclusive lock at the configured
// baud, send the probe string, wait for the expected answer, close.
import { realpath, stat } from 'node:fs/promises';
import { SerialPort } from 'serialport';
import { formatUsbId } from '../config/usb-identity.js';
import { healthy, unhealthy, type CheckContext, type Verdict } from './check-result.js';
import { abortedVerdict } from './abort-verdict.js';
import { exchangeProbe, type ConsoleProbe } from './probe-exchange.js';
import { findTtyByUsb, type TtyUsbIdentity } from './serial-tty.js';

export interface SerialSpec {
  path?: string | undefined;
  usb?: TtyUsbIdentity | undefined;
  baud: number;
  probe?: { send: string; expect: string; timeout: number } | undefined;
}

export type ResolvedTty = { ok: true; tty: string } | { ok: false; verdict: Verdict };

/** The character device behind the configured console, or why there is none. */
export async function resolveTty(spec: SerialSpec): Promise<ResolvedTty> {
  let tty: string;
  if (spec.path !== undefined) {
    try {
      tty = await realpath(spec.path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return {
        ok: false,
        verdict: unhealthy(
          code === 'ENOENT' ? 'not-present' : 'error',
          `serial ${spec.path} not present${code === 'ENOENT' ? '' : ` (${code ?? 'error'})`}`,
        ),
      };
    }
  } else if (spec.usb !== undefined) {
    const found = findTtyByUsb(spec.usb);
    const id = `${formatUsbId(spec.usb.vid, spec.usb.pid)} serial ${spec.usb.serial}`;
    if (found === undefined)
      return {
        ok: false,
        verdict: unhealthy(
          'not-present',
          `serial adapter usb ${id} has no tty`,
          'the adapter is unplugged or its driver is not loaded',
        ),
      };
    tty = found;
  } else {
    return { ok: false, verdict: unhealthy('error', 'serial device has neither path nor usb identity') };
  }
  try {
    const info = await stat(tty);
    if (!info.isCharacterDevice())
      return { ok: false, verdict: unhealthy('error', `serial ${tty} is not a character device`) };
  } catch {
    return { ok: false, verdict: unhealthy('not-present', `serial ${tty} vanished`) };
  }
  return { ok: true, tty };
}

export async function checkSerial(spec: SerialSpec, ctx: CheckContext): Promise<Verdict> {
  const resolved = await resolveTty(spec);
  if (!resolved.ok) return resolved.verdict;
  // Resolving does not watch the signal; a check ended meanwhile reports that, not a stale "present".
  if (ctx.signal.aborted) return abortedVerdict(ctx.signal, `serial ${resolved.tty}`);
  const { tty } = resolved;
  const where = spec.path !== undefined && spec.path !== tty ? `${spec.path} -> ${tty}` : tty;
  if (ctx.mode === 'passive' || spec.probe === undefined) return healthy(`serial ${tty} present`, where);
  return openAndProbe(tty, spec.baud, spec.probe, ctx.signal, where);
}

/** Active check: exclusive open, send, wait for the expected answer within the probe timeout. */
async function openAndProbe(
  tty: string,
  baud: number,
  probe: ConsoleProbe,
  signal: AbortSignal,
  where: string,
): Promise<Verdict> {
  const port = new SerialPort({ path: tty, baudRate: baud, autoOpen: false, lock: true });
  // Without a listener, an I/O error (the console vanishing mid-write) would be an uncaught exception.
  let ioError: Error | undefined;
  const onError = (error: Error): void => {
    ioError = error;
  };
  port.on('error', onError);
  const opened = await new Promise<Error | null>((resolve) => port.open((error) => resolve(error ?? null)));
  if (opened) {
    if (/Cannot lock port|EAGAIN|EWOULDBLOCK/i.test(opened.message))
      return unhealthy('busy', `serial ${tty} busy (locked by another process)`, where);
    return unhealthy('error', `serial ${tty} cannot be opened: ${opened.message}`, where);
  }
  try {
    return await exchangeProbe(port, probe, signal, {
      subject: `serial ${tty}`,
      where,
      closed: 'disconnected',
      closeDetail: () => (ioError ? `${where}: ${ioError.message}` : where),
    });
  } finally {
    if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
    port.off('error', onError);
  }
}
