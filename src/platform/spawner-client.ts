// The agent's side of libexec/labslot-spawner (its header has the contract):
// one long-lived small process that starts the agent's programs, so that a
// device check or a lease's useradd does not fork the whole agent. Started on
// first use; when it dies, what it was running is reported as failed to start
// (ESPAWNER: it may still be running), and the next program starts a new one.
// Should the binary not start at all, programs go to Node's spawn from then on.
import { type ChildProcess, spawn, type ChildProcessByStdio } from 'node:child_process';
import { constants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { directStarter } from './direct-starter.js';
import type { ProcessEnd, ProcessStarter, StartedProcess, StartOptions } from './process-starter.js';

/** What scripts/build-libexec.mjs compiles: the package's dist/libexec, from dist/ and src/ alike. */
export const SPAWNER_PATH = fileURLToPath(new URL('../../dist/libexec/labslot-spawner', import.meta.url));

const REQ_SPAWN = 1;
const REQ_KILL = 2;
const REQ_JOB = 3;
const REQ_CLOSE = 4;
const REQ_SPAWN_RT = 5;
const ANS_OUTPUT = 1;
const ANS_EXIT = 2;
const ANS_FAILED = 3;
const ANS_STARTED = 4;
const ANS_REPORT = 5;
const ANS_DONE = 6;
/** A job's report is one line from its sandbox; more is not the launcher's. */
const REPORT_MAX = 4096;
const HEADER = 9;

/**
 * How long a killed program's exit may take to come back before the spawner is taken for stuck and
 * killed itself (what it runs is then reported as ESPAWNER), so that a timeout always ends a run.
 */
const KILL_ANSWER_MS = 5_000;
/** How long a job's start may take to be answered (STARTED or FAILED) before the spawner is taken for stuck. */
const START_ANSWER_MS = 10_000;
/** The first name of each number, as Node reports it (SIGABRT, not its alias SIGIOT). */
const SIGNAL_NAMES = new Map<number, NodeJS.Signals>();
for (const [name, number] of Object.entries(constants.signals))
  if (!SIGNAL_NAMES.has(number)) SIGNAL_NAMES.set(number, name as NodeJS.Signals);

interface Running {
  program: string;
  /** A program's output, or a job's report. */
  onOutput: (chunk: Buffer) => void;
  settle: (end: ProcessEnd) => void;
  /** Armed once the program is killed (KILL_ANSWER_MS). */
  backstop?: NodeJS.Timeout;
  /** Set for a job: its pid once started, and its wait status once exited (DONE follows). */
  job?: { onStarted: (pid: number) => void; onExited: () => void; status?: number };
}

export interface JobStartOptions {
  env: NodeJS.ProcessEnv;
  /** Where the job's stdout and stderr are appended (created 0600). */
  outputFile: string;
  /** With a cap, the spawner relays the job's output into the file and stops after this many bytes. */
  maxOutputBytes?: number;
  /** Once the job has exited, how long its output and report may take to reach end-of-file before they are cut. */
  drainMs: number;
}

/** How a job ended, with what its sandbox reported on fd 3. */
export type SpawnedJobEnd = ProcessEnd & { report: string };

export interface SpawnedJob {
  /** -1 when it did not start. */
  pid: number;
  exited: Promise<SpawnedJobEnd>;
}

type SpawnerProcess = ChildProcessByStdio<Writable, Readable, null>;

export class SpawnerStarter implements ProcessStarter {
  readonly kind = 'spawner';
  #process: SpawnerProcess | undefined;
  /** The binary could not be started (missing, not executable, another architecture): Node's spawn from now on. */
  #unusable = false;
  #pending = Buffer.alloc(0);
  readonly #running = new Map<number, Running>();
  #lastId = 0;

  constructor(readonly path: string) {}

  /** False once the binary could not be started: callers then start programs and jobs with Node's spawn. */
  get usable(): boolean {
    return !this.#unusable;
  }

  start(program: string, args: readonly string[], options: StartOptions, onOutput: (chunk: Buffer) => void) {
    if (this.#unusable) return directStarter.start(program, args, options, onOutput);
    const request = spawnRequest([program, ...args], options.env, options.cwd ?? '');
    const spawner = this.#spawner();
    if (!('stdin' in spawner))
      return { exited: spawner.then((error) => ({ spawnError: error })), kill: () => undefined };
    const id = this.#nextId();
    const exited = new Promise<ProcessEnd>((settle) => this.#running.set(id, { program, onOutput, settle }));
    if (this.#running.size === 1) hold(spawner, true);
    spawner.stdin.write(frame(options.holdsHostLock === true ? REQ_SPAWN_RT : REQ_SPAWN, id, request));
    const kill = (): void => {
      const running = this.#running.get(id);
      if (running === undefined || this.#process !== spawner) return;
      spawner.stdin.write(frame(REQ_KILL, id));
      running.backstop ??= setTimeout(
        () => this.#abandon(spawner, `did not report ${program} killed within ${KILL_ANSWER_MS} ms`),
        KILL_ANSWER_MS,
      );
    };
    return { exited, kill } satisfies StartedProcess;
  }

  /**
   * Starts a job's sandbox chain (labslot-spawner-job.c): stdout and stderr into its output file, fd 3 a
   * pipe for the sandbox's report. Its first process's exit ends nothing else: the sandbox sees to that.
   */
  async startJob(argv: readonly string[], options: JobStartOptions): Promise<SpawnedJob> {
    const program = argv[0] ?? '';
    const request = jobRequest(argv, options);
    const spawner = this.#spawner();
    if (!('stdin' in spawner)) return { pid: -1, exited: spawner.then((error) => ({ spawnError: error, report: '' })) };
    const id = this.#nextId();
    const report: Buffer[] = [];
    let reported = 0;
    let timer: NodeJS.Timeout | undefined;
    let started: (pid: number) => void = () => undefined;
    const pid = new Promise<number>((resolve) => (started = resolve));
    // A spawner that does not even say it started the job is stuck: a lease must not wait on it forever.
    const answerBy = setTimeout(
      () => this.#abandon(spawner, `did not start ${program} within ${START_ANSWER_MS} ms`),
      START_ANSWER_MS,
    );
    void pid.then(() => clearTimeout(answerBy));
    const exited = new Promise<SpawnedJobEnd>((settle) => {
      const onExited = (): void => {
        timer = setTimeout(() => {
          if (this.#process === spawner) spawner.stdin.write(frame(REQ_CLOSE, id));
        }, options.drainMs);
      };
      this.#running.set(id, {
        program,
        onOutput: (chunk) => {
          if (reported < REPORT_MAX) report.push(chunk);
          reported += chunk.length;
        },
        job: { onStarted: started, onExited },
        settle: (end) => {
          clearTimeout(timer);
          started(-1);
          // Decoded whole: a character split between two reads stays one character.
          settle({ ...end, report: Buffer.concat(report).toString('utf8').slice(0, REPORT_MAX) });
        },
      });
    });
    if (this.#running.size === 1) hold(spawner, true);
    spawner.stdin.write(frame(REQ_JOB, id, request));
    return { pid: await pid, exited };
  }

  /** The spawner's pid while it runs: it shows in `ps` as the agent's child. */
  get pid(): number | undefined {
    return this.#process?.pid;
  }

  /**
   * Ends the spawner; the next start begins a new one. What it runs is reported: its programs as ESPAWNER
   * (they run on), its jobs as ended (they end with it).
   */
  stop(): void {
    const child = this.#process;
    if (child === undefined) return;
    child.stdin.end();
    this.#gone(child, 'was stopped');
  }

  /** A spawner that no longer answers, or says what it should not: killed, and what it ran reported. */
  #abandon(child: SpawnerProcess, why: string): void {
    child.kill('SIGKILL');
    this.#gone(child, why);
  }

  #gone(child: SpawnerProcess, why: string): void {
    if (this.#process !== child) return;
    this.#process = undefined;
    for (const [id, running] of this.#running) {
      this.#settled(id);
      const { job } = running;
      // A job that had exited keeps its own end; its output may miss what was still in the pipe.
      if (job?.status !== undefined) running.settle(decodeStatus(job.status));
      else {
        // A job dies with the spawner (bwrap's --die-with-parent); a program may still run.
        const fate = job === undefined ? `${running.program} may still be running` : 'the job ended with it';
        running.settle({ spawnError: spawnError(running.program, 'ESPAWNER', `labslot-spawner ${why}; ${fate}`) });
      }
    }
  }

  #settled(id: number): void {
    clearTimeout(this.#running.get(id)?.backstop);
    this.#running.delete(id);
    if (this.#running.size === 0 && this.#process !== undefined) hold(this.#process, false);
  }

  #nextId(): number {
    do this.#lastId = this.#lastId >= 0xffff_fffe ? 1 : this.#lastId + 1;
    while (this.#running.has(this.#lastId));
    return this.#lastId;
  }

  /** The running spawner, or, when it cannot be started now (EMFILE, EAGAIN, ENOENT), why. */
  #spawner(): SpawnerProcess | Promise<NodeJS.ErrnoException> {
    if (this.#process !== undefined) return this.#process;
    const started: ChildProcess = spawn(this.path, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    // Heard before anything else can throw: an unheard 'error' (it comes on the next tick) stops the agent.
    const failed = new Promise<NodeJS.ErrnoException>((resolve) => started.once('error', resolve));
    void failed.then((error) => {
      if (['ENOENT', 'EACCES', 'ENOEXEC'].includes(error.code ?? '')) this.#unusable = true;
      if (this.#process === started) this.#gone(this.#process, `could not start: ${error.message}`);
    });
    // Without a process there are no pipes either (EMFILE), whatever the types say.
    if (!started.stdin || !started.stdout) return failed;
    const child = started as SpawnerProcess;
    this.#process = child;
    this.#pending = Buffer.alloc(0);
    // The spawner keeps the agent's process alive only while a program it started is being waited for.
    hold(child, false);
    refStream(child.stdin, false);
    child.stdout.on('data', (chunk: Buffer) => this.#read(chunk));
    // A write after it died fails with EPIPE; the exit below reports what was running.
    child.stdin.on('error', () => undefined);
    // 'close', not 'exit': answers still in the pipe are read first.
    child.once('close', (code, signal) => this.#gone(child, `exited (${String(code ?? signal)})`));
    return child;
  }

  #read(chunk: Buffer): void {
    let data = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    while (data.length >= 4) {
      const size = data.readUInt32LE(0);
      if (size < 5 && this.#process !== undefined) return this.#abandon(this.#process, `sent a frame of ${size} bytes`);
      if (data.length < 4 + size) break;
      this.#answer(data[4] ?? 0, data.readUInt32LE(5), data.subarray(HEADER, 4 + size));
      data = data.subarray(4 + size);
    }
    // A copy, so a small remainder does not pin a large chunk.
    this.#pending = Buffer.from(data);
  }

  #answer(type: number, id: number, body: Buffer): void {
    const running = this.#running.get(id);
    if (running === undefined) return;
    const { job } = running;
    if (type === ANS_OUTPUT || type === ANS_REPORT) {
      // The chunk outlives this read buffer in the caller's tail.
      running.onOutput(Buffer.from(body));
      return;
    }
    if (job !== undefined && type === ANS_STARTED) return job.onStarted(body.readInt32LE(0));
    if (job !== undefined && type === ANS_EXIT) {
      job.status = body.readInt32LE(0);
      return job.onExited();
    }
    this.#settled(id);
    if (type === ANS_EXIT) running.settle(decodeStatus(body.readInt32LE(0)));
    else if (type === ANS_DONE) running.settle(decodeStatus(job?.status ?? 0));
    else if (type === ANS_FAILED) {
      const errno = body.readInt32LE(0);
      running.settle({ spawnError: spawnError(running.program, getSystemErrorName(-errno), undefined, errno) });
    }
  }
}

/**
 * Whether the spawner keeps the agent's process alive: only while something it started is waited for.
 * Its exit too, not only its output: the answer to a spawner's death comes with its exit.
 */
function hold(child: SpawnerProcess, ref: boolean): void {
  if (ref) child.ref();
  else child.unref();
  refStream(child.stdout, ref);
}

/** Pipes to a child are net.Sockets, which can be (un)ref'd; the stream types do not say so. */
function refStream(stream: Readable | Writable, ref: boolean): void {
  const socket = stream as unknown as { ref?: () => void; unref?: () => void };
  if (ref) socket.ref?.();
  else socket.unref?.();
}

/** As Node's spawn words it: "spawn nft ENOENT". */
function spawnError(program: string, code: string, message?: string, errno?: number): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(message ?? `spawn ${program} ${code}`);
  error.code = code;
  if (errno !== undefined) error.errno = -errno;
  error.syscall = `spawn ${program}`;
  error.path = program;
  return error;
}

/** A wait(2) status as Node reports an exit: a code, or the signal that ended it. */
function decodeStatus(status: number): ProcessEnd {
  const signal = status & 0x7f;
  if (signal === 0) return { code: (status >> 8) & 0xff, signal: null };
  return { code: null, signal: SIGNAL_NAMES.get(signal) ?? null };
}

function frame(type: number, id: number, body?: Buffer): Buffer {
  const head = Buffer.alloc(HEADER);
  head.writeUInt32LE(5 + (body?.length ?? 0), 0);
  head.writeUInt8(type, 4);
  head.writeUInt32LE(id, 5);
  return body === undefined ? head : Buffer.concat([head, body]);
}

function spawnRequest(argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string): Buffer {
  const counts = Buffer.alloc(8);
  return Buffer.concat([counts, requestStrings(counts, argv, env, [cwd])]);
}

/** u32 argc | u32 envc | u64 cap (all ones: none) | cwd (this process's) | output file | argv | env */
function jobRequest(argv: readonly string[], { env, outputFile, maxOutputBytes }: JobStartOptions): Buffer {
  const head = Buffer.alloc(16);
  head.writeBigUInt64LE(maxOutputBytes === undefined ? 2n ** 64n - 1n : BigInt(maxOutputBytes), 8);
  return Buffer.concat([head, requestStrings(head, argv, env, ['', outputFile])]);
}

/** The NUL-terminated strings of a request, their counts written into the first 8 bytes of `head`. */
function requestStrings(head: Buffer, argv: readonly string[], env: NodeJS.ProcessEnv, fixed: string[]): Buffer {
  const pairs = Object.entries(env).flatMap(([key, value]) => (value === undefined ? [] : [`${key}=${value}`]));
  const strings = [...fixed, ...argv, ...pairs];
  // Node's spawn refuses these too: a NUL would end the string early, here as in exec.
  if (strings.some((text) => text.includes('\0')))
    throw new TypeError(`a program's arguments, environment and directory cannot contain NUL bytes: ${argv[0] ?? ''}`);
  head.writeUInt32LE(argv.length, 0);
  head.writeUInt32LE(pairs.length, 4);
  return Buffer.from(`${strings.join('\0')}\0`);
}
