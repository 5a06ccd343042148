// An SP console behind a real PDU outlet, for recovery tests and the recovery
// bench: a PTY pair whose responder answers only while its board has power.
// The board's power is what pdudaemon's localcmdline outlet commands did:
// they append "off N" / "on N" to the outlet log, and the board reads that
// log, so nothing but a switch that really ran (not pdudaemon's 200) can cut
// or restore it. Power off silences the console at once; power on brings it
// back after a boot delay. A wedged board (firmware hung) is silent until its
// next power on (the test wedges it, or a job sends it the line "crash", as a
// bad command hangs a real firmware); a dead one stays silent whatever the outlet does.
import { readFileSync } from 'node:fs';
import { startPtyPair, startResponder, type PtyPair, type Responder } from './pty-console.js';

/** How often the outlet log is read: well below any boot delay. */
const POLL_MS = 20;

export interface PowerSwitch {
  action: 'on' | 'off';
  /** When the board saw the outlet command's line (ms since the epoch). */
  at: number;
}

export interface PoweredConsole {
  /** The end labslot checks. */
  device: string;
  /** Stops answering until the outlet is switched off and on again (a hung firmware). */
  wedge: () => void;
  /** Stops answering for good: power cycles do not bring it back. */
  kill: () => void;
  /** Whether it answers a probe now. */
  answering: () => boolean;
  /** The switches of its outlet it has seen, oldest first. */
  switches: () => PowerSwitch[];
  /** When it last came back from a power on (its boot delay over), or undefined. */
  bootedAt: () => number | undefined;
  /** Stops the responder and the PTY pair; idempotent. */
  stop: () => Promise<void>;
}

export interface PoweredConsoleOptions {
  /** The PTY links' name under `dir`. */
  name: string;
  /** The file the PDU's outlet commands append "on N" / "off N" to. */
  outletLog: string;
  /** The board's outlet number on that PDU. */
  outlet: number;
  /** Time from power on to a console that answers. */
  bootMs?: number;
  prompt?: string;
}

export async function startPoweredConsole(dir: string, options: PoweredConsoleOptions): Promise<PoweredConsole> {
  const { outletLog, outlet, bootMs = 1_000, prompt = 'hubris> ' } = options;
  const pair: PtyPair = await startPtyPair(dir, options.name);
  const state = {
    powered: true,
    booting: false,
    wedged: false,
    dead: false,
    bootedAt: undefined as number | undefined,
  };
  const switches: PowerSwitch[] = [];
  const answering = (): boolean => state.powered && !state.booting && !state.wedged && !state.dead;
  let responder: Responder;
  try {
    responder = await startResponder(pair.peer, (line) => {
      if (line.trim() === 'crash') state.wedged = true;
      return answering() ? prompt : null;
    });
  } catch (error) {
    await pair.stop();
    throw error;
  }
  let seen = 0;
  let boot: NodeJS.Timeout | undefined;
  const poll = setInterval(() => {
    let lines: string[];
    try {
      lines = readFileSync(outletLog, 'utf8').split('\n').filter(Boolean);
    } catch {
      return; // Not written yet.
    }
    for (const line of lines.slice(seen)) {
      const [action, port] = line.split(' ');
      if (Number(port) !== outlet || (action !== 'on' && action !== 'off')) continue;
      switches.push({ action, at: Date.now() });
      clearTimeout(boot);
      if (action === 'off') {
        state.powered = false;
        state.booting = false;
      } else if (!state.powered) {
        // Power back: the firmware starts afresh (a hang is gone), and answers once it has booted.
        state.powered = true;
        state.booting = true;
        state.wedged = false;
        boot = setTimeout(() => {
          state.booting = false;
          state.bootedAt = Date.now();
        }, bootMs);
      }
    }
    seen = lines.length;
  }, POLL_MS);
  let stopping: Promise<void> | undefined;
  return {
    device: pair.device,
    wedge: () => {
      state.wedged = true;
    },
    kill: () => {
      state.dead = true;
    },
    answering,
    switches: () => [...switches],
    bootedAt: () => state.bootedAt,
    stop: () =>
      (stopping ??= (async () => {
        clearInterval(poll);
        clearTimeout(boot);
        await responder.stop();
        await pair.stop();
      })()),
  };
}
