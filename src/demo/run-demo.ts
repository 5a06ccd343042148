// `labslot demo`: builds an emulated lab on this machine, runs the real agent
// on it in this process, prints what to try, and on stop tears it all down in
// reverse: agent (which stops and cleans up its jobs' workers) first, then the
// consoles, the namespace, pdudaemon and the directory.
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Agent, untraversableParent } from '../agent.js';
import { loadLabConfig } from '../devices/load-lab-config.js';
import type { ListenAddress } from '../config/schema.js';
import { coerceError } from '../errors.js';
import { agentUrl } from '../http/agent-url.js';
import { sha256Hex } from '../tokens.js';
import { createLogger } from '../log.js';
import { demoConfigToml } from './demo-config.js';
import { DemoError } from './demo-error.js';
import { buildEmulatedLab } from './demo-lab.js';
import { checkDemoPrerequisites } from './demo-prerequisites.js';
import { formatInstructions, labslotCommand } from './demo-instructions.js';
import { ResourceStack } from './resource-stack.js';
import { waitSlotsAvailable } from './wait-ready.js';

const SAFE_DIR = /^[A-Za-z0-9._/+@=-]+$/;

export interface DemoOptions {
  listen: ListenAddress;
  /** Build the lab here and keep the directory at exit; a fresh temporary directory, removed at exit, otherwise. */
  dir?: string;
  /** bin/labslot.js, for the printed commands. */
  script: string;
  cwd: string;
  write: (text: string) => void;
  readyTimeoutMs?: number;
}

export class Demo {
  private readonly stack = new ResourceStack();

  constructor(private readonly options: DemoOptions) {}

  /** Runs until `stop` aborts (a signal), then tears everything down. Throws if the lab did not come up or did not go away cleanly. */
  async run(stop: AbortSignal): Promise<void> {
    checkDemoPrerequisites();
    let failure: unknown;
    try {
      await this.start(stop);
      await new Promise<void>((resolve) =>
        stop.aborted ? resolve() : stop.addEventListener('abort', () => resolve(), { once: true }),
      );
    } catch (error) {
      // Ctrl-C during the start is a stop like any other.
      if (!stop.aborted) failure = error;
    }
    this.say(failure === undefined ? 'stopping: the agent first, then the lab (Ctrl-C again to force)' : 'cleaning up');
    try {
      // Each part by name, so a person (or a test beside another demo) knows exactly what went.
      await this.stack.dispose((what) => this.say(`removing ${what}`));
    } catch (error) {
      if (failure !== undefined) this.say(`cleanup after the failure failed too: ${(error as Error).message}`);
      failure ??= error;
    }
    if (failure !== undefined) throw coerceError(failure);
    this.say(
      this.options.dir === undefined
        ? 'stopped; the lab is gone'
        : `stopped; the lab is gone, ${this.options.dir} is kept`,
    );
  }

  /** A second Ctrl-C: kill the lab's processes and delete its namespace at once; returns what may be left behind. */
  forceStop(): string[] {
    return this.stack.forceSync();
  }

  private say(line: string): void {
    this.options.write(`labslot demo: ${line}\n`);
  }

  private async start(stop: AbortSignal): Promise<void> {
    const started = Date.now();
    const dir = this.makeDir();
    const stateDir = join(dir, 'state');
    const closed = untraversableParent(stateDir);
    if (closed !== undefined) {
      throw new DemoError(
        `job users could not reach ${stateDir}: ${closed} lacks o+x (chmod o+x it, or give a --dir under /tmp or /srv)`,
        'prerequisite',
      );
    }
    this.say(`building the lab in ${dir}`);
    const parts = await buildEmulatedLab(dir, this.stack, stop);

    const operatorToken = `demo-operator-${randomBytes(12).toString('hex')}`;
    const submitterToken = `demo-submitter-${randomBytes(12).toString('hex')}`;
    const configFile = join(dir, 'slots.toml');
    writeFileSync(
      configFile,
      demoConfigToml({
        ...parts,
        operatorHash: sha256Hex(operatorToken),
        submitterHash: sha256Hex(submitterToken),
        listen: this.options.listen,
      }),
      { mode: 0o644 },
    );
    // Loaded like `labslot agent -c` loads it: the demo's config is real config.
    const lab = loadLabConfig(configFile, { listen: this.options.listen });

    // The agent's JSON log goes to a file: the terminal is for the instructions.
    const agentLog = join(dir, 'agent.log');
    const logFd = openSync(agentLog, 'a', 0o600);
    this.stack.defer({ what: 'agent log', run: () => closeSync(logFd), force: () => undefined });
    // Forced, nothing can delete them synchronously, but the user learns their names.
    this.stack.defer({
      what: 'job users',
      run: () => assertNoWorkerUsers(lab.stateDir),
      force: () => assertNoWorkerUsers(lab.stateDir),
    });
    const agent = new Agent({ lab, log: createLogger(logFd) });
    // Forced, the agent dies with this process, and its sandboxes with it (bubblewrap --die-with-parent).
    this.stack.defer({ what: 'agent', run: () => agent.stop(), force: () => undefined });
    this.say(`starting the agent on ${lab.listen.host}:${lab.listen.port} (log: ${agentLog})`);
    await agent.start();
    const url = agentUrl(lab.listen.host, agent.port ?? lab.listen.port);

    this.say('waiting for the first health checks');
    const slots = await waitSlotsAvailable(url, operatorToken, this.options.readyTimeoutMs ?? 30_000, stop);
    this.options.write(
      `\n${formatInstructions({
        url,
        program: labslotCommand(this.options.script, this.options.cwd),
        cwd: this.options.cwd,
        dir,
        keepDir: this.options.dir !== undefined,
        configFile,
        agentLog,
        namespace: parts.namespace,
        pdudaemonUrl: parts.pdudaemonUrl,
        operatorToken,
        submitterToken,
        slots: slots.map((s) => s.name),
        readyMs: Date.now() - started,
      })}\n`,
    );
  }

  /** --dir: made if missing, and kept. Otherwise a fresh temporary directory, removed last of all. */
  private makeDir(): string {
    if (this.options.dir !== undefined) {
      const dir = resolve(this.options.dir);
      // The path goes into socat addresses and pdudaemon's outlet commands (run by a shell): plain characters only.
      if (!SAFE_DIR.test(dir))
        throw new DemoError(
          `--dir ${JSON.stringify(dir)}: use a path of letters, digits and . _ - / + @ = only (it goes into socat addresses and shell commands)`,
          'prerequisite',
        );
      if (!existsSync(dir)) {
        mkdirSync(dir, { recursive: true });
        chmodSync(dir, 0o755);
      }
      return dir;
    }
    if (!SAFE_DIR.test(tmpdir()))
      throw new DemoError(
        `the temporary directory ${JSON.stringify(tmpdir())} has characters socat and the shell would misread: give --dir`,
        'prerequisite',
      );
    const dir = mkdtempSync(join(tmpdir(), 'labslot-demo-'));
    const remove = (): void => rmSync(dir, { recursive: true, force: true });
    this.stack.defer({ what: `directory ${dir}`, run: remove, force: remove });
    // Job users reach their directories under the state directory inside it.
    chmodSync(dir, 0o755);
    return dir;
  }
}

/** The agent deletes its workers' users when it stops; one still here (home under the state directory) would outlive the demo. */
function assertNoWorkerUsers(stateDir: string): void {
  const prefix = `${stateDir}/`;
  const left = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .filter((fields) => fields[0]?.startsWith('ls-') === true && fields[5]?.startsWith(prefix) === true)
    .map((fields) => fields[0]);
  if (left.length > 0)
    throw new Error(
      `left behind: ${left.join(', ')} (remove each with userdel and groupdel, and its cgroups labslot/<scope>/w<id> under /sys/fs/cgroup)`,
    );
}
