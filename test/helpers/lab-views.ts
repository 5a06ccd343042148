// What the lab-of-hosts tests read from any agent, as a client or an operator
// would: raw output bytes, GET /v1/hosts, GET /v1/slots with its lab link, the
// whole shared event log (paged with after_id) and /healthz.
import type { EventView, HostView, LabHostView, SlotView } from './api-types.js';
import { apiRequest, SUBMITTER_TOKEN, type AgentUrl } from './job-api.js';

const base = (url: AgentUrl): string => (typeof url === 'string' ? url : url());

export interface LabLink {
  connected: boolean;
  problem: string | null;
}

/** GET /v1/slots of an agent in a lab. */
export interface LabSlotListView {
  host: HostView;
  slots: SlotView[];
  lab?: LabLink;
}

export interface HostListView {
  lab: boolean;
  host_timeout_ms: number | null;
  hosts: LabHostView[];
}

/** GET path as bytes (a job's output read byte-exact), with the status. */
export async function getBytes(
  url: AgentUrl,
  path: string,
  timeoutMs = 30_000,
): Promise<{ status: number; body: Buffer }> {
  const response = await fetch(`${base(url)}${path}`, {
    headers: { authorization: `Bearer ${SUBMITTER_TOKEN}` },
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()) };
}

/** A job's output from `offset` on, as bytes; `follow` reads until the job has ended. */
export async function outputBytes(url: AgentUrl, id: string, offset = 0, follow = false): Promise<Buffer> {
  const { status, body } = await getBytes(
    url,
    `/v1/jobs/${id}/output?offset=${offset}${follow ? '&follow=1' : ''}`,
    60_000,
  );
  if (status !== 200) throw new Error(`output of ${id} answered ${status}: ${body.toString()}`);
  return body;
}

export async function hostList(url: AgentUrl): Promise<HostListView> {
  return (await apiRequest(url, 'GET', '/v1/hosts')).json as unknown as HostListView;
}

export async function slotList(url: AgentUrl, query = ''): Promise<LabSlotListView> {
  return (await apiRequest(url, 'GET', `/v1/slots${query}`)).json as unknown as LabSlotListView;
}

export async function healthz(url: AgentUrl): Promise<Record<string, unknown>> {
  const response = await fetch(`${base(url)}/healthz`, { signal: AbortSignal.timeout(10_000) });
  return (await response.json()) as Record<string, unknown>;
}

/** The lab's whole event log as one agent serves it, oldest first, paged forward with after_id. */
export async function allEvents(url: AgentUrl): Promise<EventView[]> {
  const all: EventView[] = [];
  let after = 0;
  for (;;) {
    const { status, json } = await apiRequest(url, 'GET', `/v1/events?limit=1000&after_id=${after}`);
    if (status !== 200) throw new Error(`GET /v1/events answered ${status}: ${JSON.stringify(json)}`);
    const page = json['events'] as EventView[];
    all.push(...page);
    const last = page[page.length - 1];
    if (page.length < 1000 || last === undefined) return all;
    after = last.id;
  }
}
