// A TCP connect under a check's deadline and signal, for kinds that reach a
// device over the network (an SP's port, a console server). The socket is
// the caller's to use and destroy.
import { connect, type Socket } from 'node:net';
import type { CheckContext, FailureClass } from './check-result.js';

export type TcpConnection =
  { ok: true; socket: Socket; ms: number } | { ok: false; why: string; failure: FailureClass };

export interface TcpTarget {
  host: string;
  port: number;
  family?: 4 | 6;
}

export function tcpConnect(target: TcpTarget, ctx: Pick<CheckContext, 'signal' | 'timeoutMs'>): Promise<TcpConnection> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect(
      target.family === undefined
        ? { host: target.host, port: target.port }
        : { host: target.host, port: target.port, family: target.family },
    );
    const done = (result: TcpConnection): void => {
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onAbort);
      socket.removeAllListeners('connect');
      if (!result.ok) socket.destroy();
      resolve(result);
    };
    const onAbort = (): void =>
      (ctx.signal.reason as Error | undefined)?.name === 'TimeoutError'
        ? done({ ok: false, why: `did not answer within ${ctx.timeoutMs} ms`, failure: 'timeout' })
        : done({ ok: false, why: 'check aborted', failure: 'error' });
    const timer = setTimeout(
      () => done({ ok: false, why: `did not answer within ${ctx.timeoutMs} ms`, failure: 'timeout' }),
      ctx.timeoutMs,
    );
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    if (ctx.signal.aborted) onAbort();
    socket.once('connect', () => done({ ok: true, socket, ms: performance.now() - started }));
    // Kept after the connect too: a reset later must not become an uncaught 'error' event.
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') done({ ok: false, why: 'closed (connection refused)', failure: 'refused' });
      else if (error.code === 'EHOSTUNREACH' || error.code === 'ENETUNREACH')
        done({ ok: false, why: 'unreachable', failure: 'unreachable' });
      else if (error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN')
        done({ ok: false, why: `has no address (${error.code})`, failure: 'not-present' });
      else done({ ok: false, why: `failed (${error.code ?? error.message})`, failure: 'error' });
    });
  });
}
