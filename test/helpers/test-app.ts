// The agent's HTTP app without a socket: createApp over a real SQLite database
// in the test's temp dir and slots.example.toml, for fast app.request() tests.
// The health monitor and the scheduler are real but never started, so nothing
// checks devices or leases slots behind the test's back.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { TestContext } from 'node:test';
import type { Hono } from 'hono';
import type { LabModel } from '../../src/config/lab-model.js';
import type { Db } from '../../src/db/open-database.js';
import { DeviceChecker } from '../../src/devices/device-checker.js';
import { HealthMonitor } from '../../src/health/health-monitor.js';
import { HealthStore } from '../../src/health/health-store.js';
import { createApp } from '../../src/http/app.js';
import type { AppEnv } from '../../src/http/app-deps.js';
import { JobOutputs } from '../../src/jobs/job-output.js';
import { Scheduler } from '../../src/jobs/scheduler.js';
import { createLogger, type Logger } from '../../src/log.js';
import { currentPlatform } from '../../src/platform/current-platform.js';
import { lifo } from './cleanup.js';
import { PROJECT_ROOT } from './cli.js';
import { labFixture } from './lab-fixture.js';
import { tempDir } from './temp-dir.js';

/** The tokens whose hashes slots.example.toml lists. */
export const OPERATOR_TOKEN = 'demo-operator-token';
export const SUBMITTER_TOKEN = 'demo-submitter-token';

export interface TestApp {
  app: Hono<AppEnv>;
  lab: LabModel;
  db: Db;
  log: Logger;
  /** The agent's log lines, parsed. */
  logs: Record<string, unknown>[];
}

/** `toml`: the lab's config (slots.example.toml unless given). */
export function testApp(t: TestContext, toml?: string): TestApp {
  const dir = tempDir(t);
  const { lab, db } = labFixture(t, dir, toml ?? readFileSync(join(PROJECT_ROOT, 'slots.example.toml'), 'utf8'));
  const logs: Record<string, unknown>[] = [];
  const log = createLogger(
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n'))
          if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    }),
  );
  const monitor = new HealthMonitor({
    lab,
    store: new HealthStore(db, lab),
    checker: new DeviceChecker(lab),
    log,
    modeOf: () => 'passive',
  });
  const scheduler = new Scheduler(
    {
      lab,
      db,
      log,
      monitor,
      agentUrl: () => 'http://127.0.0.1:1',
      commandDir: join(dir, 'commands'),
      listUsb: () => Promise.resolve([]),
      platform: currentPlatform(lab.stateDir),
    },
    () => ({ ok: null, reason: 'not checked yet' }),
  );
  lifo(t).after(async () => {
    await scheduler.stop();
    await monitor.stop();
  });
  const outputs = new JobOutputs(lab.stateDir, { isDone: () => true });
  const app = createApp({ lab, db, log, version: 'test', startedAt: Date.now(), monitor, scheduler, outputs });
  return { app, lab, db, log, logs };
}

/** A request as a client on this host sends it (Host: localhost), with a bearer token and a JSON or raw body. */
export async function request(
  app: Hono<AppEnv>,
  method: string,
  path: string,
  options: { token?: string; body?: string } = {},
): Promise<{ status: number; json: unknown }> {
  const headers: Record<string, string> = { host: 'localhost:8421', 'content-type': 'application/json' };
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  const response = await app.request(`http://localhost:8421${path}`, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  return { status: response.status, json: await response.json() };
}
