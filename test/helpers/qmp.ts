// A minimal QMP client (QEMU's JSON control socket): commands with ids,
// and a log of events to wait on (DEVICE_DELETED after a device_del).
import { existsSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { eventually } from './eventually.js';

export type QmpRecord = Record<string, unknown>;

interface QmpEvent {
  event: string;
  data: QmpRecord;
}

function isRecord(value: unknown): value is QmpRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class Qmp {
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private readonly events: QmpEvent[] = [];
  private readonly eventWaiters = new Set<() => void>();
  private closed: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (error) => this.close(error));
    socket.on('close', () => this.close(new Error('QMP connection closed')));
  }

  /** Connects once QEMU has made the socket, and leaves capabilities negotiation mode. */
  static async connect(path: string, timeoutMs: number): Promise<Qmp> {
    return eventually(
      async () => {
        if (!existsSync(path)) throw new Error(`no QMP socket at ${path}`);
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = createConnection(path, () => resolve(s));
          s.once('error', reject);
        });
        const qmp = new Qmp(socket);
        await qmp.execute('qmp_capabilities');
        return qmp;
      },
      { timeoutMs, intervalMs: 50, message: `a QMP connection at ${path}` },
    );
  }

  execute(command: string, args?: QmpRecord): Promise<unknown> {
    if (this.closed) return Promise.reject(this.closed);
    const id = this.nextId++;
    const reply = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.socket.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id })}\n`);
    return reply;
  }

  /** Position in the event log: pass it to waitEvent to see only events after it. */
  get eventCount(): number {
    return this.events.length;
  }

  /** The first event named `name` at or after log position `from` whose data passes `match`. */
  waitEvent(name: string, match: (data: QmpRecord) => boolean, from: number, timeoutMs: number): Promise<QmpRecord> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.events.slice(from).find((e) => e.event === name && match(e.data));
        if (!found) return false;
        done();
        resolve(found.data);
        return true;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`QMP: no ${name} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.eventWaiters.delete(waiter);
      };
      const waiter = (): void => void check();
      this.eventWaiters.add(waiter);
      check();
    });
  }

  close(error = new Error('QMP connection closed')): void {
    if (this.closed) return;
    this.closed = error;
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let end;
    while ((end = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, end).trim();
      this.buffer = this.buffer.slice(end + 1);
      if (line !== '') this.onMessage(JSON.parse(line) as unknown);
    }
  }

  private onMessage(message: unknown): void {
    if (!isRecord(message)) return;
    if (typeof message['event'] === 'string') {
      this.events.push({ event: message['event'], data: isRecord(message['data']) ? message['data'] : {} });
      for (const waiter of [...this.eventWaiters]) waiter();
      return;
    }
    const id = message['id'];
    const waiter = typeof id === 'number' ? this.pending.get(id) : undefined;
    if (!waiter || typeof id !== 'number') return; // The greeting, or a reply nobody waits for.
    this.pending.delete(id);
    const error = message['error'];
    if (isRecord(error)) waiter.reject(new Error(`QMP ${String(error['class'])}: ${String(error['desc'])}`));
    else waiter.resolve(message['return']);
  }
}
