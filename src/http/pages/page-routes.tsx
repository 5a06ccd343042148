// The status page for people (DESIGN §4 `GET /`): server-rendered HTML that
// reads the same library the JSON API does, with hold, release and power forms.
// Reads follow the API's rule (open on loopback, a token otherwise; a browser
// sends it through its basic-auth prompt). Writes need the operator token in
// the form itself.
import type { Context, MiddlewareHandler } from 'hono';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { html } from 'hono/html';
import type { Child } from 'hono/jsx';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import type { SlotView } from '../../api/slot.js';
import { recentSlotEvents } from '../event-view.js';
import { checkTimeoutMs } from '../../devices/device-checker.js';
import { HealthStore } from '../../health/health-store.js';
import { listJobs } from '../../jobs/job-queue.js';
import { jobView } from '../../jobs/job-view.js';
import { queueByTarget } from '../../jobs/queue-summary.js';
import { SlotHeldError } from '../../slots/holds.js';
import { slotViews } from '../../slots/slot-view.js';
import type { AppDeps, AppEnv } from '../app-deps.js';
import { labStatus } from './lab-status.js';
import { actorOf, readRefusal, rolesOf } from '../auth.js';
import { hostView } from '../host-view.js';
import { errorAnswer } from '../error-map.js';
import {
  holdRequest,
  operatorHold,
  operatorPower,
  operatorRelease,
  powerRequest,
  releaseRequest,
} from '../slot-actions.js';
import { outletsOf } from '../../slots/slot-power.js';
import { Layout } from './page-layout.js';
import { SlotActionForm, type SlotAction } from './slot-action-forms.js';
import { SlotPage } from './slot-page.js';
import { StatusPage } from './status-page.js';
import { TIMELINE_WINDOW_MS } from './health-timeline.js';

/** Long enough to notice a change soon, short enough not to load the agent from a wall of monitors. */
const REFRESH_SECONDS = 10;
const FORM_MAX_BYTES = 16 * 1024;

const NOTICES: Record<string, string> = {
  held: 'The slot is held.',
  replaced: "The slot's hold is replaced.",
  released: 'The slot is released and was checked again.',
  'released-unhealthy':
    'The slot is released, but its fresh check failed: it takes no jobs until its devices are healthy.',
  'power-on': 'Power on was sent to the outlets.',
  'power-off': 'Power off was sent to the outlets.',
  'power-cycle': 'A power cycle was sent to the outlets.',
};

/** `replace` is the hold form's checkbox: "on" when ticked, absent otherwise; `power` and `device` are the power form's. */
const formFields = z.object({
  text: z.string().default(''),
  by: z.string().default(''),
  token: z.string().default(''),
  replace: z.string().optional(),
  power: z.string().default(''),
  device: z.string().default(''),
});

/**
 * No framing (a hostile page could overlay the forms and borrow a password
 * manager's autofill for one click), nothing loaded from anywhere, forms only
 * to this agent.
 */
const PAGE_HEADERS = {
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/** A browser says where a form came from; only this agent's own pages may post one. */
function crossSite(c: Context<AppEnv>): boolean {
  const site = c.req.header('sec-fetch-site');
  if (site !== undefined) return site !== 'same-origin' && site !== 'none';
  const origin = c.req.header('origin');
  return origin !== undefined && origin !== 'null' && new URL(c.req.url).origin !== origin;
}

export function pageRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { lab, db } = deps;

  const page = (
    c: Context<AppEnv>,
    title: string,
    body: Child,
    options: { status?: ContentfulStatusCode; refresh?: boolean } = {},
  ): Response | Promise<Response> => {
    for (const [name, value] of Object.entries(PAGE_HEADERS)) c.header(name, value);
    // The reload goes to the page itself, without a one-off notice such as ?done=held.
    const refresh = options.refresh === true ? { seconds: REFRESH_SECONDS, url: c.req.path } : undefined;
    return c.html(
      html`<!DOCTYPE html>${(
          <Layout title={title} agent={lab.agentName} version={deps.version} host={hostView(deps)} refresh={refresh}>
            {body}
          </Layout>
        )}`,
      options.status ?? 200,
    );
  };
  const problem = (c: Context<AppEnv>, status: ContentfulStatusCode, message: string): Response | Promise<Response> =>
    page(
      c,
      'Error',
      <p class="banner bad" role="alert">
        {message}
      </p>,
      { status },
    );

  // Per route, not '*': this app is mounted at '/', and the API's paths keep their JSON answers.
  const reader: MiddlewareHandler<AppEnv> = async (c, next) => {
    const refusal = readRefusal(lab.listen.host, lab.config.auth, c.req.header('authorization'));
    if (refusal !== null) {
      // Any user name; the password is an operator or submitter token.
      c.header('WWW-Authenticate', 'Basic realm="labslot", charset="UTF-8"');
      return problem(c, 401, refusal);
    }
    await next();
  };
  const formLimit = bodyLimit({
    maxSize: FORM_MAX_BYTES,
    onError: (c: Context<AppEnv>) => problem(c, 413, `the form is over ${FORM_MAX_BYTES} bytes`),
  });

  const viewOf = (name: string): SlotView | undefined =>
    lab.slots.has(name) ? slotViews(lab, db, { only: [name], host: hostView(deps) })[0] : undefined;
  const noSlot = (c: Context<AppEnv>, name: string): Response | Promise<Response> =>
    problem(c, 404, `No slot named "${name}". Slots: ${[...lab.slots.keys()].join(', ')}.`);

  app.get('/', reader, async (c) => {
    const now = Date.now();
    const local = slotViews(lab, db, { host: hostView(deps) });
    const member = deps.member;
    if (member === undefined)
      return page(c, 'Slots', <StatusPage slots={local} queues={queueByTarget(db)} now={now} />, { refresh: true });
    // A lab: every host's slots, with a host column and filter, and the lab's queue (DESIGN §7).
    const view = await labStatus(member, local, c.req.query('host'));
    return page(c, 'Slots', <StatusPage slots={view.slots} queues={view.queues} now={now} lab={view.lab} />, {
      refresh: true,
    });
  });

  app.get('/slots/:name', reader, (c) => {
    const name = c.req.param('name');
    const slot = viewOf(name);
    if (slot === undefined) return noSlot(c, name);
    const now = Date.now();
    const store = new HealthStore(db, lab);
    const kept = lab.config.health.history;
    // The slot's devices are in the model: slotViews would not have listed them otherwise.
    const timelines = (lab.slots.get(name)?.devices ?? []).flatMap((device) => {
      const spec = lab.devices.get(device)?.spec;
      return spec === undefined
        ? []
        : [
            {
              device,
              kind: spec.kind,
              results: store.history(device, kept, now - TIMELINE_WINDOW_MS),
              timeoutMs: checkTimeoutMs(lab, spec),
            },
          ];
    });
    const jobs = listJobs(db, { slot: name, limit: 20 }).map((j) => jobView(j, lab.stateDir));
    const events = recentSlotEvents(db, name, 50).reverse();
    const notice = NOTICES[c.req.query('done') ?? ''] ?? null;
    return page(
      c,
      name,
      <SlotPage
        slot={slot}
        timelines={timelines}
        events={events}
        jobs={jobs}
        now={now}
        historyKept={kept}
        notice={notice}
        outlets={outletsOf(lab, name)}
      />,
      { refresh: true },
    );
  });

  for (const action of ['hold', 'release', 'power'] as const satisfies readonly SlotAction[]) {
    app.get(`/slots/:name/${action}`, reader, (c) => {
      const name = c.req.param('name');
      const slot = viewOf(name);
      if (slot === undefined) return noSlot(c, name);
      return page(
        c,
        `${action} ${name}`,
        <SlotActionForm
          action={action}
          slot={slot}
          now={Date.now()}
          values={{ text: '', by: '' }}
          outlets={outletsOf(lab, name)}
          error={null}
        />,
      );
    });

    app.post(`/slots/:name/${action}`, formLimit, async (c) => {
      const name = c.req.param('name');
      const slot = viewOf(name);
      if (slot === undefined) return noSlot(c, name);
      if (crossSite(c))
        return problem(c, 403, 'This form was sent from another site; open the slot page here and send it from there.');
      let body: unknown;
      try {
        body = await c.req.parseBody();
      } catch {
        return problem(c, 400, 'The form could not be read.');
      }
      const parsed = formFields.safeParse(body);
      if (!parsed.success)
        return problem(c, 400, 'The form has fields of the wrong kind: reason, name and token are text.');
      const fields = parsed.data;
      const refuse = (status: ContentfulStatusCode, error: string): Response | Promise<Response> =>
        page(
          c,
          `${action} ${name}`,
          <SlotActionForm
            action={action}
            slot={slot}
            now={Date.now()}
            values={fields}
            outlets={outletsOf(lab, name)}
            error={error}
          />,
          { status },
        );

      const token = fields.token.trim();
      if (token === '') return refuse(401, 'Enter an operator token.');
      const roles = rolesOf(token, lab.config.auth);
      if (!roles.includes('operator')) {
        return roles.length > 0
          ? refuse(
              403,
              `That is a submitter token: ${action === 'power' ? 'switching power' : 'holding and releasing'} needs an operator token.`,
            )
          : refuse(401, 'That token is not valid.');
      }
      const by = fields.by.trim() === '' ? undefined : fields.by;
      const common = { slot: name, actor: actorOf('operator', token) };
      try {
        if (action === 'hold') {
          const request = holdRequest.safeParse({ reason: fields.text, by });
          if (!request.success)
            return await refuse(
              400,
              `Say why the slot is held (1 to 1000 characters): ${request.error.issues[0]?.message ?? ''}`,
            );
          const replace = fields.replace !== undefined;
          const held = operatorHold(deps, { ...common, by: request.data.by, reason: request.data.reason, replace });
          return c.redirect(`/slots/${name}?done=${held.outcome === 'replaced' ? 'replaced' : 'held'}`, 303);
        }
        if (action === 'power') {
          const request = powerRequest.safeParse({
            action: fields.power,
            device: fields.device.trim() === '' ? undefined : fields.device,
            by,
          });
          if (!request.success)
            return await refuse(400, `Choose on, off or cycle: ${request.error.issues[0]?.message ?? ''}`);
          const { action: power, device } = request.data;
          await operatorPower(deps, { ...common, by: request.data.by, action: power, device });
          return c.redirect(`/slots/${name}?done=power-${power}`, 303);
        }
        const request = releaseRequest.safeParse({ note: fields.text.trim() === '' ? undefined : fields.text, by });
        if (!request.success)
          return await refuse(400, `The note is too long: ${request.error.issues[0]?.message ?? ''}`);
        const healthy = await operatorRelease(deps, { ...common, by: request.data.by, note: request.data.note });
        return c.redirect(`/slots/${name}?done=${healthy ? 'released' : 'released-unhealthy'}`, 303);
      } catch (error) {
        // The JSON API's status and words (error-map.ts), shown on the form; a held slot's hint names this form's checkbox.
        // The agent's own failures (5xx) go on to app.onError like any route's; an outlet's driver failing is not one.
        const answer = errorAnswer(error);
        if (answer.status >= 500 && answer.code !== 'power_failed') throw error;
        return await refuse(
          answer.status,
          error instanceof SlotHeldError
            ? `${error.message}; tick "Replace the current hold" to replace it`
            : answer.message,
        );
      }
    });
  }

  return app;
}
