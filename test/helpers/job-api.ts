// The job API as tests call it, against any agent's URL: one agent of a job
// lab (job-lab.ts) or any host of a lab of many (lab-hosts.ts). Tokens are
// fixed so tests and job scripts can use them; only their hashes go in a
// config, and every agent given authToml() takes the same ones.
import { createHash } from 'node:crypto';
import type { EventView, JobView, SlotDetailView } from './api-types.js';
import { eventually } from './eventually.js';

export const OPERATOR_TOKEN = 'job-lab-operator';
export const SUBMITTER_TOKEN = 'job-lab-submitter';

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The [auth] table that accepts OPERATOR_TOKEN and SUBMITTER_TOKEN. */
export function authToml(): string {
  return `[auth]\noperators = ["${sha256(OPERATOR_TOKEN)}"]\nsubmitters = ["${sha256(SUBMITTER_TOKEN)}"]\n`;
}

/** An agent's base URL, or a getter for it when the agent may restart on another port meanwhile. */
export type AgentUrl = string | (() => string);

const base = (url: AgentUrl): string => (typeof url === 'string' ? url : url());

export interface ApiAnswer {
  status: number;
  json: Record<string, unknown>;
}

export async function apiRequest(
  url: AgentUrl,
  method: string,
  path: string,
  body?: unknown,
  token = SUBMITTER_TOKEN,
): Promise<ApiAnswer> {
  const response = await fetch(`${base(url)}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** POST /v1/jobs; the new job's id (anything but 201 throws, with the answer). */
export async function submitJob(url: AgentUrl, body: Record<string, unknown>): Promise<string> {
  const { status, json } = await apiRequest(url, 'POST', '/v1/jobs', body);
  if (status !== 201) throw new Error(`submit answered ${status}: ${JSON.stringify(json)}`);
  return json['id'] as string;
}

export async function getJob(url: AgentUrl, id: string): Promise<JobView> {
  return (await apiRequest(url, 'GET', `/v1/jobs/${id}`)).json as unknown as JobView;
}

export async function waitJobDone(url: AgentUrl, id: string, timeoutMs = 20_000): Promise<JobView> {
  let last: JobView | undefined;
  return eventually(
    async () => {
      last = await getJob(url, id);
      return last.done && last;
    },
    { timeoutMs, intervalMs: 25, message: () => `job ${id} to be done: ${JSON.stringify(last)}` },
  );
}

export async function jobOutput(url: AgentUrl, id: string): Promise<string> {
  return (
    await fetch(`${base(url)}/v1/jobs/${id}/output`, {
      headers: { authorization: `Bearer ${SUBMITTER_TOKEN}` },
      signal: AbortSignal.timeout(10_000),
    })
  ).text();
}

/** Waits until the job's output matches (15 s at most); the match, for its groups. */
export async function waitJobOutput(
  url: AgentUrl,
  id: string,
  pattern: RegExp,
  timeoutMs = 15_000,
): Promise<RegExpExecArray> {
  let output = '';
  return eventually(
    async () => {
      output = await jobOutput(url, id);
      return pattern.exec(output) ?? false;
    },
    {
      timeoutMs,
      intervalMs: 25,
      message: () => `job ${id} to print ${String(pattern)}; output ${JSON.stringify(output)}`,
    },
  ).catch(async (error: unknown) => {
    // The job's view says why it did not print (still queued, failed); it takes a request, so only now.
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}; job ${JSON.stringify(await getJob(url, id).catch(() => 'unreadable'))}`,
      { cause: error },
    );
  });
}

/** GET /v1/slots/:name, as the tests read it. */
export async function slotDetail(url: AgentUrl, name: string): Promise<SlotDetailView> {
  return (await (
    await fetch(`${base(url)}/v1/slots/${name}`, { signal: AbortSignal.timeout(10_000) })
  ).json()) as SlotDetailView;
}

export async function listEvents(url: AgentUrl, query = ''): Promise<EventView[]> {
  return (await apiRequest(url, 'GET', `/v1/events?limit=1000${query}`)).json['events'] as EventView[];
}

export async function waitHealthy(url: AgentUrl, slot: string, timeoutMs = 10_000): Promise<void> {
  let view: SlotDetailView | undefined;
  await eventually(
    async () => {
      view = (await (
        await fetch(`${base(url)}/v1/slots/${slot}`, { signal: AbortSignal.timeout(5_000) })
      ).json()) as SlotDetailView;
      return view.health === 'healthy';
    },
    { timeoutMs, intervalMs: 50, message: () => `slot ${slot} to be healthy: ${JSON.stringify(view)}` },
  );
}
