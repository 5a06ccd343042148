// GET /metrics (DESIGN §4): Prometheus text format, readable like the other
// read-only routes (open on loopback, a token otherwise).
import type { Handler } from 'hono';
import type { AppDeps, AppEnv } from '../app-deps.js';
import { AgentMetrics } from '../metrics/agent-metrics.js';

export function metricsHandler(deps: AppDeps): Handler<AppEnv> {
  const metrics = new AgentMetrics(deps);
  return async (c) => c.body(await metrics.render(), 200, { 'content-type': metrics.contentType });
}
