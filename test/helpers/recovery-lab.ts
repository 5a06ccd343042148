// The emulated lab of the recovery tests (DESIGN §9) and bench/recovery.ts: a
// real pdudaemon whose localcmdline outlets write each switch to a log, one
// board per slot on its own outlet (a PTY console that goes silent when its
// outlet is off and answers again a boot delay after it is back on:
// src/emulated-lab/powered-console.ts), and a real agent with short health
// checks, each slot recovered by `recover = ["power-cycle"]` unless it says otherwise.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPoweredConsole, type PoweredConsole } from '../../src/emulated-lab/powered-console.js';
import { startAgent, type RunningAgent } from './agent-process.js';
import type { EventView, SlotDetailView } from './api-types.js';
import { lifo, type Cleanup } from './cleanup.js';
import { eventually } from './eventually.js';
import { apiRequest, authToml, listEvents, OPERATOR_TOKEN, slotDetail, submitJob, waitHealthy } from './job-api.js';
import { startPdudaemon, type Pdudaemon } from './pdudaemon.js';
import { parsePrometheusText, type MetricFamily } from './prometheus-text.js';

export { OPERATOR_TOKEN } from './job-api.js';

export interface BoardSlot {
  name: string;
  target: string;
  /** More keys of the slot's table; `recover = ["power-cycle"]` unless this sets `recover`. */
  extra?: string;
}

export interface RecoveryLabOptions {
  /** Keys of [health] besides interval "1s", failure_threshold 1, success_threshold 1. */
  health?: { interval?: string; failureThreshold?: number };
  /** The [recovery] table's keys. */
  recoveryToml?: string;
  /** Milliseconds a board takes from power on to answering. */
  bootMs?: number;
}

export interface RecoveryLab {
  dir: string;
  pdu: Pdudaemon;
  boards: Map<string, PoweredConsole>;
  agent: RunningAgent;
  slot: (name: string) => Promise<SlotDetailView>;
  /** The slot's events, oldest first. */
  events: (slot: string) => Promise<EventView[]>;
  /** Waits for the slot's first event of `type` (after event id `afterId`); 30 s unless said otherwise. */
  waitEvent: (slot: string, type: string, options?: { afterId?: number; timeoutMs?: number }) => Promise<EventView>;
  submit: (body: Record<string, unknown>) => Promise<string>;
  post: (path: string, body: unknown, token?: string) => Promise<{ status: number; json: Record<string, unknown> }>;
  metrics: () => Promise<MetricFamily[]>;
}

/** The board of a slot; throws for a slot the lab has no board for. */
export function boardOf(lab: RecoveryLab, slot: string): PoweredConsole {
  const board = lab.boards.get(slot);
  if (board === undefined) throw new Error(`no board for slot ${slot}`);
  return board;
}

/** Each slot gets a console `<slot>-con` on a board behind outlet N (its place in `slots`, from 1) and `<slot>-power`. */
export async function recoveryLab(
  t: Cleanup,
  dir: string,
  slots: readonly BoardSlot[],
  options: RecoveryLabOptions = {},
): Promise<RecoveryLab> {
  // Workers reach their directories under the state dir, as under /var/lib on a lab host.
  chmodSync(dir, 0o755);
  const pdu = await startPdudaemon(t, dir);
  const boards = new Map<string, PoweredConsole>();
  let devices = '';
  for (const [index, slot] of slots.entries()) {
    const board = await startPoweredConsole(dir, {
      name: slot.name,
      outletLog: pdu.outletLog,
      outlet: index + 1,
      bootMs: options.bootMs ?? 1_000,
    });
    lifo(t).after(board.stop);
    boards.set(slot.name, board);
    devices +=
      `[devices.${slot.name}-con]\nkind = "serial"\npath = "${board.device}"\n` +
      `probe = { send = "\\r\\n", expect = "hubris> ", timeout = "1s" }\n` +
      // pdudaemon's cycle: off, this delay, on.
      `[devices.${slot.name}-power]\nkind = "power"\ndriver = "pdudaemon"\nurl = "${pdu.url}"\npdu = "${pdu.pdu}"\nport = ${index + 1}\ndelay = "1s"\n`;
  }
  const tables = slots
    .map(
      (slot) =>
        `[slots.${slot.name}]\ntarget = "${slot.target}"\ndevices = ["${slot.name}-con", "${slot.name}-power"]\n` +
        `${/^recover\s*=/m.test(slot.extra ?? '') ? '' : 'recover = ["power-cycle"]\n'}${slot.extra ?? ''}\n`,
    )
    .join('');
  const config = join(dir, 'slots.toml');
  writeFileSync(
    config,
    `[agent]\nname = "recovery-lab"\n${authToml()}` +
      `[health]\ninterval = "${options.health?.interval ?? '1s'}"\nfailure_threshold = ${options.health?.failureThreshold ?? 1}\nsuccess_threshold = 1\n` +
      `[jobs]\nstop_grace = "1s"\n[recovery]\n${options.recoveryToml ?? 'boot_wait = "3s"'}\n` +
      devices +
      tables,
  );
  const agent = await startAgent(t, { config, stateDir: join(dir, 'state') });
  const url = agent.url;
  const events = async (slot: string): Promise<EventView[]> => listEvents(url, `&slot=${slot}`);
  for (const slot of slots) await waitHealthy(url, slot.name);
  return {
    dir,
    pdu,
    boards,
    agent,
    slot: (name) => slotDetail(url, name),
    events,
    waitEvent: async (slot, type, { afterId = 0, timeoutMs = 30_000 } = {}) => {
      let seen: EventView[] = [];
      return eventually(
        async () => {
          seen = await events(slot);
          return seen.find((e) => e.type === type && e.id > afterId) ?? false;
        },
        {
          timeoutMs,
          intervalMs: 50,
          message: () => `${type} of ${slot}; its events: ${seen.map((e) => `${e.type}: ${e.message}`).join(' | ')}`,
        },
      );
    },
    submit: (body) => submitJob(url, body),
    post: (path, body, token = OPERATOR_TOKEN) => apiRequest(url, 'POST', path, body, token),
    metrics: async () =>
      parsePrometheusText(await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text()),
  };
}
