// The worker thread of process-thread.ts: runs each program it is sent with
// runProcessHere, on this thread, so that the fork and the wait for exec happen on this
// thread's event loop instead of the agent's.
import { parentPort } from 'node:worker_threads';
import { runProcessHere } from './run-process.js';
import { notStarted, type ThreadReply, type ThreadRequest, toWireError } from './process-thread-wire.js';

const running = new Map<number, AbortController>();
const port = parentPort;
if (port === null) throw new Error('process-thread-main runs as a worker thread');

port.on('message', (message: ThreadRequest) => {
  if (message.kind === 'cancel') {
    const reason = message.timedOut ? new DOMException('deadline', 'TimeoutError') : new Error('aborted by the agent');
    running.get(message.id)?.abort(reason);
    return;
  }
  const controller = new AbortController();
  running.set(message.id, controller);
  void runProcessHere(message.argv, { ...message.options, signal: controller.signal })
    .then(({ spawnError, ...result }): ThreadReply => ({
      id: message.id,
      result: { ...result, ...(spawnError === undefined ? {} : { spawnError: toWireError(spawnError) }) },
    }))
    .catch((error: unknown): ThreadReply => ({
      id: message.id,
      result: notStarted(toWireError(error as NodeJS.ErrnoException)),
    }))
    .then((reply) => {
      running.delete(message.id);
      port.postMessage(reply);
    });
});
