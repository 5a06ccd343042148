// Job routes: submit, list, show, stream output, cancel (DESIGN §4).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { Hono } from 'hono';
import { z } from 'zod';
import { JOB_STATES } from '../../db/schema.js';
import { listJobs, submitJob, unknownTargetMessage } from '../../jobs/job-queue.js';
import { jobRequestSchema } from '../../jobs/job-request.js';
import { createOutputFileSync, jobOutputsArchive } from '../../jobs/job-paths.js';
import { isFinal, jobView } from '../../jobs/job-view.js';
import type { JobRow } from '../../jobs/job-view.js';
import type { AppDeps, AppEnv } from '../app-deps.js';
import { actorAs, requireRole } from '../auth.js';
import { HttpError } from '../http-error.js';
import { jobNamed as jobNamedIn } from '../job-named.js';
import { jsonBody } from '../json-body.js';
import { labJobView } from '../lab-job-routes.js';
import { enqueueLabJob, listLabJobs, placeLabJob } from '../../lab/lab-jobs.js';
import { heldLabSlots } from '../../lab/lab-view.js';

const listQuery = z.strictObject({
  state: z.enum(JOB_STATES).optional(),
  target: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const outputQuery = z.strictObject({
  offset: z.coerce.number().int().nonnegative().default(0),
  follow: z.enum(['0', '1', 'true', 'false']).default('0'),
});

export function jobRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { db, lab } = deps;
  const jobNamed = (id: string): JobRow => jobNamedIn(db, id);

  // Jobs carry their submitters' env and output; jobs run on this host, so loopback is no trust
  // boundary here: reading them always takes an operator or submitter token.
  const reader = requireRole(['operator', 'submitter'], lab.config.auth);

  // Submitters submit; an operator submits only to run a job on a held slot ("allow_held"), to debug it.
  app.post('/', requireRole(['submitter', 'operator'], lab.config.auth), async (c) => {
    const request = await jsonBody(c, jobRequestSchema);
    const actor = actorAs(
      c.req.header('authorization'),
      request.allow_held ? 'operator' : 'submitter',
      lab.config.auth,
    );
    if (actor === undefined)
      throw new HttpError(
        403,
        'forbidden',
        request.allow_held
          ? '"allow_held" needs an operator token: only an operator may run a job on a held slot'
          : 'this needs a submitter token',
      );
    const member = deps.member;
    if (member !== undefined) {
      // A lab: the job joins the lab's queue, for whichever host serving its target is free first.
      const hosts = await member.hosts();
      const held = await heldLabSlots(member.database());
      const place = placeLabJob(hosts, request, actor, (slot) => held.get(slot));
      const row = await enqueueLabJob(member.database(), request, place, actor, member.name, lab.config.jobs.timeout);
      deps.log.info({ job: row.id, target: row.target, slot: row.requestedSlot, actor }, 'job submitted to the lab');
      return c.json({ id: row.id, job: labJobView(row, hosts, lab.stateDir) }, 201);
    }
    // The output file with the row, in its transaction: a full disk leaves neither, and the client a 507.
    const job = submitJob(db, lab, request, actor, Date.now(), (id) => createOutputFileSync(lab.stateDir, id));
    deps.scheduler.poke();
    deps.log.info({ job: job.id, target: job.target, slot: job.requestedSlot, actor }, 'job submitted');
    return c.json({ id: job.id, job: jobView(job, lab.stateDir) }, 201);
  });

  app.get('/', reader, async (c) => {
    const query = parseQuery(listQuery, c.req.query());
    const member = deps.member;
    if (member !== undefined) {
      const [rows, hosts] = await Promise.all([listLabJobs(member.database(), query), member.hosts()]);
      return c.json({ jobs: rows.map((row) => labJobView(row, hosts, lab.stateDir)) });
    }
    const found = listJobs(db, query);
    // A target no slot serves and no job ever had is a typo, as in a submission, not an empty list.
    if (
      query.target !== undefined &&
      found.length === 0 &&
      !lab.targets.has(query.target) &&
      listJobs(db, { target: query.target, limit: 1 }).length === 0
    ) {
      throw new HttpError(400, 'unknown_target', unknownTargetMessage(lab, query.target));
    }
    return c.json({ jobs: found.map((j) => jobView(j, lab.stateDir)) });
  });

  // In a lab a job this host has says so (JobView.host), also to an agent that proxied the request here.
  const here = deps.member === undefined ? {} : { host: deps.member.name };
  app.get('/:id', reader, (c) => c.json({ ...jobView(jobNamed(c.req.param('id')), lab.stateDir), ...here }));

  app.get('/:id/output', reader, (c) => {
    const job = jobNamed(c.req.param('id'));
    const query = parseQuery(outputQuery, c.req.query());
    const follow = query.follow === '1' || query.follow === 'true';
    const body = deps.outputs.stream(job.id, query.offset, follow, c.req.raw.signal);
    return new Response(body, {
      headers: {
        'content-type': 'text/plain; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      },
    });
  });

  app.get('/:id/outputs', reader, async (c) => {
    const job = jobNamed(c.req.param('id'));
    const archive = jobOutputsArchive(lab.stateDir, job.id);
    let size;
    try {
      size = (await stat(archive)).size;
    } catch {
      throw new HttpError(
        404,
        'no_outputs',
        isFinal(job.state)
          ? `job ${job.id} kept no outputs (nothing under $LABSLOT_OUTPUT, or over [jobs] max_outputs: see its events)`
          : `job ${job.id} has not finished; outputs are kept at cleanup`,
      );
    }
    const stream = Readable.toWeb(createReadStream(archive)) as unknown as ReadableStream<Uint8Array>;
    return new Response(stream, {
      headers: {
        'content-type': 'application/x-tar',
        'content-length': String(size),
        'content-disposition': `attachment; filename="${job.id}-outputs.tar"`,
      },
    });
  });

  app.post('/:id/cancel', reader, (c) => {
    const job = jobNamed(c.req.param('id'));
    deps.scheduler.cancel(job.id, c.get('actor'));
    deps.log.info({ job: job.id, actor: c.get('actor') }, 'job cancel requested');
    return c.json({ id: job.id, state: jobNamed(job.id).state });
  });

  return app;
}

function parseQuery<T extends z.ZodType>(schema: T, query: Record<string, string>): z.output<T> {
  const parsed = schema.safeParse(query);
  if (!parsed.success)
    throw new HttpError(
      400,
      'invalid_request',
      parsed.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; '),
    );
  return parsed.data;
}
