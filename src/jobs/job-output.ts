// A job's output, read from any offset by any number of followers at once.
// The job writes its output file directly; followers read it in bounded
// chunks when their client is ready (pull), so a slow reader costs one chunk
// of memory, never a buffer of everything it has not read yet. One inotify
// watch per followed job wakes all its followers; a short timer covers any
// event a watch misses.
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { jobOutputPath } from './job-paths.js';

const CHUNK_BYTES = 64 * 1024;
/** Wake up at least this often even without an event. */
const POLL_MS = 500;

export interface OutputSource {
  /** Whether the job has ended and its output can no longer grow. */
  isDone(jobId: string): boolean;
}

export class JobOutputs {
  private readonly watches = new Map<string, { watcher: FSWatcher | undefined; events: EventEmitter; refs: number }>();

  constructor(
    private readonly stateDir: string,
    private readonly source: OutputSource,
  ) {}

  /** A job's state changed (it started, it ended): wake its followers. */
  notify(jobId: string): void {
    this.watches.get(jobId)?.events.emit('change');
  }

  /** The output from `offset`; with `follow`, keeps going until the job is done and everything is sent. */
  stream(jobId: string, offset: number, follow: boolean, signal: AbortSignal): ReadableStream<Uint8Array> {
    const path = jobOutputPath(this.stateDir, jobId);
    let position = offset;
    let done = false;
    let file: FileHandle | undefined;
    let release: (() => void) | undefined;
    const close = async (): Promise<void> => {
      release?.();
      release = undefined;
      await file?.close().catch(() => undefined);
      file = undefined;
    };
    return new ReadableStream<Uint8Array>(
      {
        start: async () => {
          try {
            file = await open(path, 'r');
          } catch (error) {
            // A job from before output files existed, or one whose output was removed: nothing to read.
            if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
            throw error;
          }
          if (follow) release = this.subscribe(jobId, path);
        },
        pull: async (controller) => {
          for (;;) {
            if (!file || signal.aborted) {
              await close();
              controller.close();
              return;
            }
            // Read "done" before the bytes: output written before the job ended is then always seen.
            // A final state never changes back, so once done it is not asked again.
            done ||= !follow || this.source.isDone(jobId);
            const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
            const { bytesRead } = await file.read(buffer, 0, CHUNK_BYTES, position);
            if (bytesRead > 0) {
              position += bytesRead;
              controller.enqueue(new Uint8Array(buffer.buffer, buffer.byteOffset, bytesRead));
              return;
            }
            if (done) {
              await close();
              controller.close();
              return;
            }
            await this.changed(jobId, signal);
          }
        },
        cancel: close,
      },
      { highWaterMark: 1 },
    );
  }

  private subscribe(jobId: string, path: string): () => void {
    let entry = this.watches.get(jobId);
    if (!entry) {
      const events = new EventEmitter();
      events.setMaxListeners(0);
      let watcher: FSWatcher | undefined;
      try {
        watcher = watch(path, { persistent: false }, () => events.emit('change'));
        watcher.on('error', () => undefined);
      } catch {
        // No inotify (limits reached): the poll timer still wakes followers.
      }
      entry = { watcher, events, refs: 0 };
      this.watches.set(jobId, entry);
    }
    entry.refs += 1;
    const held = entry;
    return () => {
      held.refs -= 1;
      if (held.refs === 0) {
        held.watcher?.close();
        this.watches.delete(jobId);
      }
    };
  }

  private changed(jobId: string, signal: AbortSignal): Promise<void> {
    const events = this.watches.get(jobId)?.events;
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        events?.off('change', finish);
        signal.removeEventListener('abort', finish);
        resolve();
      };
      const timer = setTimeout(finish, POLL_MS);
      events?.once('change', finish);
      signal.addEventListener('abort', finish, { once: true });
    });
  }
}
