// A request for a job or slot that another host of the lab has is answered by
// that host (DESIGN §7): forwarded as it came, with its token, and its answer
// streamed back (a followed job output can last as long as the job). A
// request forwarded once is never forwarded again, so two agents that
// disagree about an owner cannot bounce it between them.
import type { Context } from 'hono';
import type { LabHost } from '../lab/lab-hosts.js';
import type { LabMember } from '../lab/lab-member.js';
import { HttpError } from './http-error.js';
import { peerFetch } from './peer-fetch.js';

export const VIA_HEADER = 'x-labslot-via';

const REQUEST_HEADERS = ['authorization', 'content-type', 'accept', 'content-length'];
const ANSWER_HEADERS = [
  'content-type',
  'content-length',
  'content-disposition',
  'cache-control',
  'x-content-type-options',
];

export async function proxyTo(c: Context, host: LabHost, member: LabMember): Promise<Response> {
  const via = c.req.header(VIA_HEADER);
  if (via !== undefined)
    throw new HttpError(
      502,
      'peer_unreachable',
      `${via} sent this request here for host ${host.name}, but this agent (${member.name}) does not have it either`,
    );
  const incoming = new URL(c.req.url);
  const target = new URL(`${incoming.pathname}${incoming.search}`, host.url);
  const headers: Record<string, string> = { [VIA_HEADER]: member.name };
  for (const name of REQUEST_HEADERS) {
    const value = c.req.header(name);
    if (value !== undefined) headers[name] = value;
  }
  const method = c.req.method;
  const body = method === 'GET' || method === 'HEAD' ? undefined : (c.req.raw.body ?? undefined);
  const answer = await peerFetch(
    target,
    { method, headers, ...(body === undefined ? {} : { body }), signal: c.req.raw.signal },
    member.peerTls,
  );
  const out = new Headers();
  for (const name of ANSWER_HEADERS) {
    const value = answer.headers.get(name);
    if (value !== null) out.set(name, value);
  }
  return new Response(answer.body, { status: answer.status, headers: out });
}
