// What the agent and its process thread (process-thread.ts) send each other.
// An Error loses its code, errno, syscall and path in postMessage, and callers
// read them (ENOENT: "not installed"), so a spawn error travels as fields.
import type { RunResult } from './run-process.js';

export interface WireOptions {
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  keepBytes?: number;
}

export type ThreadRequest =
  | { kind: 'run'; id: number; argv: readonly string[]; options: WireOptions }
  | { kind: 'cancel'; id: number; timedOut: boolean };

export interface WireError {
  message: string;
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

export interface ThreadReply {
  id: number;
  result: Omit<RunResult, 'spawnError'> & { spawnError?: WireError };
}

export function toWireError(error: NodeJS.ErrnoException): WireError {
  const { message, code, errno, syscall, path } = error;
  return { message, code, errno, syscall, path };
}

export function fromWireError(wire: WireError): NodeJS.ErrnoException {
  return Object.assign(new Error(wire.message), {
    code: wire.code,
    errno: wire.errno,
    syscall: wire.syscall,
    path: wire.path,
  });
}

/** The result of a program that never started, for `error`. */
export function notStarted(error: WireError): ThreadReply['result'] {
  return { code: null, signal: null, output: '', timedOut: false, aborted: false, durationMs: 0, spawnError: error };
}
