// Job requests in a lab (DESIGN §7): any agent is the front door. A job's
// record is the lab's; the host that claimed it answers for it (proxied), a
// job no host has claimed yet is answered from the lab's queue here, and a
// job this host has goes on to this host's own routes.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Context, MiddlewareHandler } from 'hono';
import type { JobView } from '../api/job.js';
import { readJob } from '../jobs/job-queue.js';
import { receiveArchive } from '../jobs/job-input.js';
import { jobView } from '../jobs/job-view.js';
import { JobNotFoundError } from '../jobs/scheduler.js';
import { HostOfflineError, LabUnavailableError } from '../lab/lab-errors.js';
import type { LabHost } from '../lab/lab-hosts.js';
import { asJobRow, cancelQueuedLabJob, readLabJob, type LabJobRow } from '../lab/lab-jobs.js';
import type { LabMember } from '../lab/lab-member.js';
import { storeLabInput } from '../lab/lab-inputs.js';
import { labWaiting, offlineDetail } from '../lab/lab-view.js';
import type { AppDeps, AppEnv } from './app-deps.js';
import { actorAs } from './auth.js';
import { HttpError } from './http-error.js';
import { proxyTo } from './lab-proxy.js';

/**
 * How often a follower of a job nobody has claimed yet looks whether one has:
 * soon at first (a free host claims within milliseconds of the submission's
 * NOTIFY), then less often for a job that waits for a slot.
 */
const CLAIM_POLL_FIRST_MS = 10;
const CLAIM_POLL_MAX_MS = 200;

export function labJobView(row: LabJobRow, hosts: readonly LabHost[], stateDir: string): JobView {
  return { ...jobView(asJobRow(row), stateDir), host: row.host, waiting: labWaiting(row, hosts) };
}

/** Mounted on /v1/jobs/:id and /v1/jobs/:id/*, after the reader check. */
export function labJobRouting(deps: AppDeps, member: LabMember): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const id = c.req.param('id') ?? '';
    let row: LabJobRow | undefined;
    try {
      row = await readLabJob(member.database(), id);
    } catch (error) {
      // The lab is away: a job this host has is still this host's to show and stop.
      if (error instanceof LabUnavailableError && readJob(deps.db, id) !== undefined) return next();
      throw error;
    }
    // Not the lab's: a job this host ran alone, before it joined (its own routes know it, or say 404).
    if (row === undefined || row.host === member.name) return next();
    const hosts = await member.hosts();
    if (row.host !== null) return ownerAnswers(c, row, hosts, member, deps.lab.stateDir);
    const action = c.req.path.slice(`/v1/jobs/${id}`.length);
    if (c.req.method === 'GET' && action === '') return c.json(labJobView(row, hosts, deps.lab.stateDir));
    if (c.req.method === 'POST' && action === '/cancel') {
      if (await cancelQueuedLabJob(member.database(), id, c.get('actor'), member.name)) {
        deps.log.info({ job: id, actor: c.get('actor') }, 'job cancel requested');
        return c.json({ id, state: 'cancelled' });
      }
      // A host claimed it meanwhile: that host stops it.
      const now = await readLabJob(member.database(), id);
      if (now?.host === member.name) return next();
      if (now?.host != null) return ownerAnswers(c, now, await member.hosts(), member, deps.lab.stateDir);
      throw new HttpError(409, 'job_done', `job ${id} has already ended (${now?.state ?? 'gone'})`);
    }
    if (c.req.method === 'PUT' && action === '/input') return inputOfUnclaimed(c, row, deps, member);
    if (c.req.method === 'GET' && action === '/output') return outputOfUnclaimed(c, id, member, next);
    if (c.req.method === 'GET' && action === '/outputs')
      throw new HttpError(404, 'no_outputs', `job ${id} has not run yet (${row.state}); outputs are kept at cleanup`);
    throw new JobNotFoundError(`job ${id} is the lab's and not on this host`);
  };
}

/** The job's host answers; if it is offline, what the lab last heard of the job (a status only). */
async function ownerAnswers(
  c: Context<AppEnv>,
  row: LabJobRow,
  hosts: readonly LabHost[],
  member: LabMember,
  stateDir: string,
): Promise<Response> {
  const owner = hosts.find((h) => h.name === row.host);
  if (owner?.online === true) return proxyTo(c, owner, member);
  if (c.req.method === 'GET' && c.req.path === `/v1/jobs/${row.id}`)
    return c.json({ ...labJobView(row, hosts, stateDir), output_bytes: 0 });
  throw new HostOfflineError(
    `job ${row.id} is on ${owner === undefined ? `host ${row.host ?? '?'}, which has left the lab` : offlineDetail(owner)}; ` +
      'it answers for the job when it is back',
  );
}

/**
 * A job nobody has claimed has no output yet. A follower (`labslot job run`)
 * waits here until a host claims it, then reads from that host; without
 * follow, the output is empty.
 */
async function outputOfUnclaimed(
  c: Context<AppEnv>,
  id: string,
  member: LabMember,
  next: () => Promise<void>,
): Promise<Response | undefined> {
  const follow = c.req.query('follow') === '1' || c.req.query('follow') === 'true';
  const signal = c.req.raw.signal;
  let pause = CLAIM_POLL_FIRST_MS;
  while (follow && !signal.aborted) {
    const row = await readLabJob(member.database(), id);
    if (row === undefined || row.state !== 'queued') {
      if (row?.host === member.name) {
        await next();
        return undefined;
      }
      if (row?.host != null) return ownerAnswers(c, row, await member.hosts(), member, '');
      break;
    }
    await sleep(pause, undefined, { signal }).catch(() => undefined);
    pause = Math.min(CLAIM_POLL_MAX_MS, pause * 2);
  }
  return new Response('', { headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } });
}

/** PUT /v1/jobs/:id/input for a lab job: checked here as on a host alone, then kept in the lab until a host claims it. */
async function inputOfUnclaimed(
  c: Context<AppEnv>,
  row: LabJobRow,
  deps: AppDeps,
  member: LabMember,
): Promise<Response> {
  const { lab } = deps;
  const actor = actorAs(c.req.header('authorization'), 'submitter', lab.config.auth);
  if (actor === undefined) throw new HttpError(403, 'forbidden', 'this needs a submitter token');
  const noInput = (): HttpError =>
    new HttpError(
      409,
      'no_input_expected',
      `job ${row.id} is not waiting for an input archive (it is ${row.state}, input ${row.input})`,
    );
  if (row.state !== 'queued' || row.input !== 'awaiting') throw noInput();
  const body = c.req.raw.body as WebReadableStream<Uint8Array> | null;
  if (body === null) throw new HttpError(400, 'invalid_request', 'send the input as a tar archive in the request body');
  const dir = join(lab.stateDir, 'lab-inputs', row.id);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    const file = join(dir, 'input.tar');
    const summary = await receiveArchive(body, file, join(dir, 'check'), lab.config.jobs.max_input, row.archives);
    if (!(await storeLabInput(member.database(), row.id, file, summary, actor, member.name))) throw noInput();
    return c.json({ id: row.id, input: { files: summary.files, bytes: summary.bytes } });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
