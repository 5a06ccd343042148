// Abstract Unix sockets (`\0name`) for the Landlock tests: what this kernel
// offers, a python3 client that says how its connect ended, a listener, and a
// connection from the test process itself (outside any job's Landlock domain).
import { execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { release } from 'node:os';
import { promisify } from 'node:util';
import { pythonLauncher, SCOPE_ABI } from '../../src/platform/linux/landlock.js';
import type { Cleanup } from './cleanup.js';
import { lifo } from './cleanup.js';

const execFileAsync = promisify(execFile);

export const KERNEL = release();

/**
 * The kernel's Landlock ABI as the python3 launcher reports it (the reference the native one is held to);
 * -1 when it could not say (the tests then fail).
 */
function probe(): number {
  const [program = 'python3', ...args] = pythonLauncher().argv;
  const result = spawnSync(program, [...args, '--abi'], { encoding: 'utf8', timeout: 10_000 });
  return result.status === 0 && /^\d+\n$/.test(result.stdout) ? Number(result.stdout) : -1;
}

export const LANDLOCK_ABI = probe();
export const SCOPED = LANDLOCK_ABI >= SCOPE_ABI;
/** For test names: which kernel the result is about. */
export const ON_KERNEL = `kernel ${KERNEL}, Landlock ABI ${LANDLOCK_ABI}`;

/** A name no other test or job on the host uses. */
export function abstractName(what: string): string {
  return `labslot-test-${what}-${randomBytes(6).toString('hex')}`;
}

/**
 * python3 -c: connects to `\0$1`, prints `connect=ok reply=...` (then sends `$2`, if given) or
 * `connect=<errno name>`. Double quotes only: job scripts put it in sh single quotes.
 */
export const CONNECT_PY = [
  'import errno, socket, sys',
  's = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)',
  'try:',
  '    s.connect("\\0" + sys.argv[1])',
  '    print("connect=ok reply=" + s.recv(100).decode().strip(), flush=True)',
  '    s.sendall(sys.argv[2].encode() if len(sys.argv) > 2 else b"")',
  'except OSError as e:',
  '    print("connect=" + errno.errorcode.get(e.errno, str(e.errno)), flush=True)',
].join('\n');

/** python3 -c: listens on `\0$1`, answers every client "from-<$2>", and ends when one sends "stop". */
export const LISTEN_PY = [
  'import socket, sys',
  's = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)',
  's.bind("\\0" + sys.argv[1])',
  's.listen(8)',
  's.settimeout(120)',
  'print("listening", flush=True)',
  'while True:',
  '    c, _ = s.accept()',
  '    c.sendall(("from-" + sys.argv[2] + "\\n").encode())',
  '    line = c.recv(100)',
  '    c.close()',
  '    if line.strip() == b"stop":',
  '        break',
].join('\n');

/** Connects from the test process (python3: Node's listen and connect pad the name to 108 bytes), sends `line`. */
export async function talkTo(name: string, line?: string): Promise<string> {
  const { stdout } = await execFileAsync('python3', ['-c', CONNECT_PY, name, ...(line === undefined ? [] : [line])], {
    timeout: 10_000,
  });
  return stdout;
}

/**
 * A listener on `\0name`, answering "from-<who>"; stopped after the test. Made by the test process itself
 * (outside any Landlock domain), or in a domain of its own when `prefix` is a launcher's scope (landlockScope).
 */
export async function listen(t: Cleanup, name: string, who = 'outside', prefix: string[] = []): Promise<void> {
  const [program, ...args] = [...prefix, 'python3', '-c', LISTEN_PY, name, who];
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  lifo(t).after(() => {
    if (child.exitCode === null) child.kill();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listener on \\0${name} within 10 s`)), 10_000);
    child.once('exit', (code) => reject(new Error(`the listener on \\0${name} exited ${String(code)}`)));
    child.stdout.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
