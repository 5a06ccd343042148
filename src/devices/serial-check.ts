// serial consoles. Passive: the node (or the by-id link) resolves to a
// character device. Active: open it with an exclusive lock at the configured
// baud, send the probe string, wait for the expected answer, close.
import { realpath, stat } from 'node:fs/promises';
import { SerialPort } from 'serialport';
import { formatUsbId } from '../config/usb-identity.js';
import { healthy, unhealthy, type CheckContext, type Verdict } from './check-result.js';
import { abortedVerdict } from './abort-verdict.js';
import { printable } from './printable.js';
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
      return { ok: false, verdict: unhealthy(code === 'ENOENT' ? 'not-present' : 'error', `serial ${spec.path} not present${code === 'ENOENT' ? '' : ` (${code ?? 'error'})`}`) };
    }
  } else if (spec.usb !== undefined) {
    const found = findTtyByUsb(spec.usb);
    const id = `${formatUsbId(spec.usb.vid, spec.usb.pid)} serial ${spec.usb.serial}`;
    if (found === undefined) return { ok: false, verdict: unhealthy('not-present', `serial adapter usb ${id} has no tty`, 'the adapter is unplugged or its driver is not loaded') };
    tty = found;
  } else {
    return { ok: false, verdict: unhealthy('error', 'serial device has neither path nor usb identity') };
  }
  try {
    const info = await stat(tty);
    if (!info.isCharacterDevice()) return { ok: false, verdict: unhealthy('error', `serial ${tty} is not a character device`) };
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
  return exchangeProbe(tty, spec.baud, spec.probe, ctx.signal, where);
}

/** Active check: exclusive open, send, wait for the expected answer within the probe timeout. */
async function exchangeProbe(tty: string, baud: number, probe: { send: string; expect: string; timeout: number }, signal: AbortSignal, where: string): Promise<Verdict> {
  const expect = new RegExp(probe.expect, 'm');
  const port = new SerialPort({ path: tty, baudRate: baud, autoOpen: false, lock: true });
  // Without a listener, an I/O error (the console vanishing mid-write) would be an uncaught exception.
  let ioError: Error | undefined;
  const onError = (error: Error): void => {
    ioError = error;
  };
  port.on('error', onError);
  const opened = await new Promise<Error | null>((resolve) => port.open((error) => resolve(error ?? null)));
  if (opened) {
    if (/Cannot lock port|EAGAIN|EWOULDBLOCK/i.test(opened.message)) return unhealthy('busy', `serial ${tty} busy (locked by another process)`, where);
    return unhealthy('error', `serial ${tty} cannot be opened: ${opened.message}`, where);
  }
  let received = Buffer.alloc(0);
  try {
    return await new Promise<Verdict>((resolve) => {
      const finish = (verdict: Verdict): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        port.off('data', onData);
        port.off('close', onClose);
        port.off('error', onIoError);
        resolve(verdict);
      };
      const onData = (chunk: Buffer): void => {
        received = Buffer.concat([received, chunk]).subarray(-4096);
        if (expect.test(received.toString('latin1'))) finish(healthy(`serial ${tty} answered`, `${where}: ${printable(received)}`));
      };
      const onClose = (): void => finish(unhealthy('error', `serial ${tty} disconnected during the check`, ioError ? `${where}: ${ioError.message}` : where));
      const onIoError = (error: Error): void => finish(unhealthy('error', `serial ${tty} failed during the check: ${error.message}`, where));
      const onTimeout = (): void =>
        finish(
          received.length === 0
            ? unhealthy('no-answer', `serial ${tty} no answer within ${probe.timeout} ms`, where)
            : unhealthy('unexpected-answer', `serial ${tty} unexpected answer (first bytes ${JSON.stringify(printable(received.subarray(0, 32)))})`, `${where}: expected /${probe.expect}/, got ${printable(received)}`),
        );
      // The check's own deadline aborts with a TimeoutError; any other abort is the agent stopping.
      const onAbort = (): void => finish(unhealthy((signal.reason as Error | undefined)?.name === 'TimeoutError' ? 'timeout' : 'error', `serial ${tty} check aborted`, where));
      const timer = setTimeout(onTimeout, probe.timeout);
      port.on('data', onData);
      port.on('close', onClose);
      port.on('error', onIoError);
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) onAbort();
      else if (probe.send !== '') port.write(probe.send);
    });
  } finally {
    if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
    port.off('error', onError);
  }
}
