// Runs INSIDE the QEMU USB lab guest: the built `labslot agent` as a child
// process, and the API calls the guest scripts make of it (usb-cli-guest.ts,
// the hotplug benchmark). The agent's log (stdout) and stderr go straight to
// files in the lab's diagnostics directory, not through this process: when
// this process is killed by the guest's watchdog, or QEMU by the host, the
// host still has everything the agent wrote.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { SlotListView, SlotView } from './api-types.js';
import { eventually } from './eventually.js';
import { diagPath, messageOf, sleep } from './guest-util.js';

export interface AgentPlan {
  /** The project, whose bin/labslot.js runs. */
  project: string;
  config: string;
  stateDir: string;
  /** host:port the agent listens on, inside the guest. */
  listen: string;
}

export interface AgentExit {
  code: number | null;
  signal: string | null;
}

/** How much of the agent's log a failure message carries. */
const LOG_TAIL_CHARS = 3_000;

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** What a failure message says of a slot: its health, usage and hold, and each device's health and reason. */
export const slotSummary = (s: SlotView): Record<string, unknown> => ({
  slot: s.name,
  health: s.health,
  usage: s.usage,
  hold: s.hold,
  devices: s.devices.map((d) => ({ name: d.name, health: d.health, reason: d.last_check?.reason ?? null })),
});

export class GuestAgent {
  private status: AgentExit | undefined;
  readonly exited: Promise<AgentExit>;

  private constructor(
    private readonly child: ChildProcess,
    private readonly listen: string,
    readonly logPath: string,
    readonly stderrPath: string,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve((this.status = { code, signal })));
      child.once('error', (error) => resolve((this.status = { code: null, signal: `not started: ${error.message}` })));
    });
  }

  /** `labslot agent -c CONFIG --state-dir DIR --listen ADDR`, at `logLevel` (debug timestamps hotplug re-checks too). */
  static start(plan: AgentPlan, logLevel = 'info'): GuestAgent {
    const logPath = diagPath('agent.log') ?? join(mkdtempSync(join(tmpdir(), 'labslot-agent-')), 'agent.log');
    const stderrPath = join(dirname(logPath), 'agent.stderr');
    const out = openSync(logPath, 'w');
    const err = openSync(stderrPath, 'w');
    try {
      const args = ['agent', '-c', plan.config, '--state-dir', plan.stateDir, '--listen', plan.listen];
      const child = spawn(process.execPath, [join(plan.project, 'bin/labslot.js'), ...args], {
        cwd: plan.project,
        env: { ...process.env, LABSLOT_LOG_LEVEL: logLevel },
        stdio: ['ignore', out, err],
      });
      return new GuestAgent(child, plan.listen, logPath, stderrPath);
    } finally {
      closeSync(out);
      closeSync(err);
    }
  }

  get exit(): AgentExit | undefined {
    return this.status;
  }

  log(): string {
    return readOr(this.logPath);
  }

  stderr(): string {
    return readOr(this.stderrPath);
  }

  /** The agent's exit status, stderr and the end of its log: what a failure message must carry. */
  describe(): string {
    const exit =
      this.status === undefined ? 'still running' : `exited with ${this.status.code ?? this.status.signal ?? '?'}`;
    const log = this.log();
    return `--- the agent (${exit}): stderr ---\n${this.stderr()}\n--- the agent's log, last ${LOG_TAIL_CHARS} of ${log.length} characters ---\n${log.slice(-LOG_TAIL_CHARS)}`;
  }

  /** The JSON log lines, parsed. */
  logEntries(): Record<string, unknown>[] {
    return this.log()
      .split('\n')
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  }

  /** GET on the agent; the parsed JSON body (throws on anything but a 200 within timeoutMs). */
  getJson(path: string, timeoutMs = 15_000): Promise<unknown> {
    const [host, port] = this.listen.split(':');
    return new Promise((resolve, reject) => {
      const req = request({ host, port: Number(port), path, timeout: timeoutMs }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`GET ${path}: ${res.statusCode ?? '?'} ${body}`));
          else resolve(JSON.parse(body) as unknown);
        });
      });
      req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }

  /** Every slot, or undefined while the agent does not answer yet; throws once it has exited. */
  async slots(): Promise<SlotView[] | undefined> {
    this.throwIfExited();
    try {
      return ((await this.getJson('/v1/slots')) as SlotListView).slots;
    } catch {
      this.throwIfExited();
      return undefined; // Not listening yet.
    }
  }

  /** Waits until GET /v1/slots lists slots and every one is healthy; a failure says what each slot's devices said. */
  async allHealthy(timeoutMs: number, intervalMs: number): Promise<SlotView[]> {
    let last: SlotView[] = [];
    await eventually(
      async () => {
        last = (await this.slots()) ?? [];
        return last.length > 0 && last.every((s) => s.health === 'healthy');
      },
      { timeoutMs, intervalMs, message: 'every slot healthy in GET /v1/slots' },
    ).catch((error: unknown) => {
      const seen = last.length === 0 ? 'the API never answered' : JSON.stringify(last.map(slotSummary));
      throw new Error(`${messageOf(error)}: ${seen}`, { cause: error });
    });
    return last;
  }

  async slot(name: string): Promise<SlotView> {
    this.throwIfExited();
    return (await this.getJson(`/v1/slots/${name}`)) as SlotView;
  }

  /** SIGTERM, then the exit status, or undefined if the agent is still running after timeoutMs. */
  async stop(timeoutMs: number): Promise<(AgentExit & { ms: number }) | undefined> {
    const started = performance.now();
    this.child.kill('SIGTERM');
    const status = await Promise.race([this.exited, sleep(timeoutMs).then(() => undefined)]);
    return status === undefined ? undefined : { ...status, ms: Math.round(performance.now() - started) };
  }

  kill(): void {
    if (this.status === undefined) this.child.kill('SIGKILL');
  }

  private throwIfExited(): void {
    if (this.status !== undefined)
      throw new Error(`the agent exited (${this.status.code ?? this.status.signal ?? '?'})`);
  }
}
