// The hono application: routes are thin and call the library; errors are
// answered here, from the one table in error-map.ts.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { AppDeps, AppEnv } from './app-deps.js';
import { requireReader, requireRole } from './auth.js';
import { labJobRouting } from './lab-job-routes.js';
import { labSlotRouting } from './lab-slot-routes.js';
import { hostRoutes } from './routes/hosts.js';
import { errorAnswer } from './error-map.js';
import { errorResponse } from './http-error.js';
import { MAX_BODY_BYTES } from './json-body.js';
import { requireLoopbackHost } from './loopback-host.js';
import { eventRoutes } from './routes/events.js';
import { jobInputRoutes } from './routes/job-input.js';
import { pageRoutes } from './pages/page-routes.js';
import { jobRoutes } from './routes/jobs.js';
import { metricsHandler } from './routes/metrics.js';
import { slotRoutes } from './routes/slots.js';
import { workerRoutes } from './routes/worker.js';

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', requireLoopbackHost(deps.lab.listen.host));

  app.get('/healthz', (c) =>
    c.json({
      status: 'ok',
      agent: deps.lab.agentName,
      version: deps.version,
      uptime_s: Math.round((Date.now() - deps.startedAt) / 1000),
      host: deps.monitor.host === null ? null : { ok: deps.monitor.host.ok, reason: deps.monitor.host.reason },
      // A lab member: whether it has the lab's database, and why not (it then claims nothing new).
      ...(deps.member === undefined
        ? {}
        : { lab: { connected: deps.member.state.connected, problem: deps.member.state.problem } }),
    }),
  );
  // Every JSON body is small; a job on this host must not make the agent buffer gigabytes to find out.
  // Input archives are the one large body: their route comes first and streams them under its own cap.
  const member = deps.member;
  // A lab: requests for another host's job or slot are that host's (lab-job-routes.ts, lab-slot-routes.ts).
  if (member !== undefined) {
    const reader = requireReader(deps.lab.listen.host, deps.lab.config.auth);
    const jobReader = requireRole(['operator', 'submitter'], deps.lab.config.auth);
    for (const path of ['/v1/jobs/:id', '/v1/jobs/:id/*']) app.use(path, jobReader, labJobRouting(deps, member));
    for (const path of ['/v1/slots/:name', '/v1/slots/:name/*']) app.use(path, reader, labSlotRouting(deps, member));
  }
  app.route('/v1/jobs', jobInputRoutes(deps));
  app.use(
    '/v1/*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => errorResponse(c, 413, 'body_too_large', `the request body is over ${MAX_BODY_BYTES} bytes`),
    }),
  );
  app.use('/v1/*', requireReader(deps.lab.listen.host, deps.lab.config.auth));
  app.route('/v1/slots', slotRoutes(deps));
  app.route('/v1/events', eventRoutes(deps));
  app.route('/v1/jobs', jobRoutes(deps));
  app.route('/v1/worker', workerRoutes(deps));
  app.route('/v1/hosts', hostRoutes(deps));
  app.get('/metrics', requireReader(deps.lab.listen.host, deps.lab.config.auth), metricsHandler(deps));
  app.route('/', pageRoutes(deps));

  app.notFound((c) => errorResponse(c, 404, 'not_found', `no route ${c.req.method} ${c.req.path}`));
  app.onError((error, c) => {
    const answer = errorAnswer(error);
    if (answer.log !== undefined) deps.log.error({ err: error, method: c.req.method, path: c.req.path }, answer.log);
    return errorResponse(c, answer.status, answer.code, answer.message, answer.details);
  });
  return app;
}
