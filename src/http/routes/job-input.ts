// PUT /v1/jobs/:id/input: the one large request body. It is mounted before the
// 64 KiB body limit of every other route and streams to disk under its own cap.
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Hono } from 'hono';
import { receiveInput } from '../../jobs/job-input.js';
import type { JobRow } from '../../jobs/job-view.js';
import type { AppDeps, AppEnv } from '../app-deps.js';
import { requireRole } from '../auth.js';
import { HttpError } from '../http-error.js';
import { jobNamed as jobNamedIn } from '../job-named.js';

export function jobInputRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { db, lab } = deps;
  const jobNamed = (id: string): JobRow => jobNamedIn(db, id);

  app.put('/:id/input', requireRole('submitter', lab.config.auth), async (c) => {
    const job = jobNamed(c.req.param('id'));
    if (job.state !== 'queued' || job.input !== 'awaiting')
      throw new HttpError(
        409,
        'no_input_expected',
        `job ${job.id} is not waiting for an input archive (it is ${job.state}, input ${job.input})`,
      );
    const body = c.req.raw.body as WebReadableStream<Uint8Array> | null;
    if (body === null)
      throw new HttpError(400, 'invalid_request', 'send the input as a tar archive in the request body');
    // Too large (InputTooLargeError) or not a plain archive (ArchiveError): answered by error-map.ts.
    const summary = await receiveInput(
      db,
      lab.stateDir,
      job.id,
      body,
      lab.config.jobs.max_input,
      c.get('actor'),
      job.archives,
    );
    deps.scheduler.poke();
    return c.json({ id: job.id, input: { files: summary.files, bytes: summary.bytes } });
  });

  return app;
}
