// The agent as operators run it: a real process, a real socket, a real SQLite
// file. Starts, serves the slot list, stops on signals, keeps state across restarts.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import { openDatabase } from '../src/db/open-database.js';
import { slots } from '../src/db/schema.js';
import { hasStackTrace, PROJECT_ROOT, runCli } from './helpers/cli.js';
import { startAgent } from './helpers/agent-process.js';
import { eventually } from './helpers/eventually.js';
import type { SlotDetailView, SlotListView, SlotView } from './helpers/api-types.js';
import { tempDir } from './helpers/temp-dir.js';

const EXAMPLE = join(PROJECT_ROOT, 'slots.example.toml');

async function getJson(url: string): Promise<{ status: number; body: unknown; type: string | null }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return { status: response.status, type: response.headers.get('content-type'), body: await response.json() };
}

describe('labslot agent', () => {
  it('serves /healthz and every configured slot with its devices, usage and hold', async (t) => {
    const agent = await startAgent(t, { config: EXAMPLE, stateDir: tempDir(t) });
    const health = await getJson(`${agent.url}/healthz`);
    assert.equal(health.status, 200);
    const healthBody = health.body as { status: string; agent: string };
    assert.equal(healthBody.status, 'ok');
    assert.equal(healthBody.agent, 'lab-host-3');

    const list = await getJson(`${agent.url}/v1/slots`);
    assert.equal(list.status, 200);
    const slotList = (list.body as SlotListView).slots;
    assert.deepEqual(
      slotList.map((s) => [s.name, s.target, s.usage, s.hold]),
      [
        ['gimlet-1', 'gimlet', 'idle', null],
        ['gimlet-2', 'gimlet', 'idle', null],
        ['sidecar-1', 'sidecar', 'idle', null],
      ],
    );
    const sidecar = slotList.find((s) => s.name === 'sidecar-1');
    assert.deepEqual(sidecar?.conflicts_with, ['gimlet-1', 'gimlet-2']);
    assert.deepEqual(sidecar.devices.find((d) => d.name === 'rack-a-console-mux')?.shared_with, ['gimlet-2']);

    const one = await getJson(`${agent.url}/v1/slots/gimlet-2`);
    assert.equal(one.status, 200);
    assert.equal((one.body as SlotView).devices.length, 6);

    assert.equal(await agent.stop('SIGTERM'), 0);
    assert.ok(agent.logs.some((l) => l['msg'] === 'agent stopped'));
  });

  it('answers unknown routes and slots with JSON errors', async (t) => {
    const agent = await startAgent(t, { config: EXAMPLE, stateDir: tempDir(t) });
    const route = await getJson(`${agent.url}/v1/nothing-here`);
    assert.equal(route.status, 404);
    assert.match(route.type ?? '', /application\/json/);
    assert.deepEqual(route.body, { error: { code: 'not_found', message: 'no route GET /v1/nothing-here' } });
    const slot = await getJson(`${agent.url}/v1/slots/gimlet-9`);
    assert.equal(slot.status, 404);
    assert.equal((slot.body as { error: { code: string } }).error.code, 'slot_not_found');
    assert.match((slot.body as { error: { message: string } }).error.message, /gimlet-1, gimlet-2, sidecar-1/);
    assert.equal(await agent.stop('SIGINT'), 0);
  });

  it('logs JSON lines with constant messages', async (t) => {
    const agent = await startAgent(t, { config: EXAMPLE, stateDir: tempDir(t) });
    await agent.stop();
    assert.ok(agent.logs.length >= 3);
    for (const entry of agent.logs) {
      assert.equal(typeof entry['msg'], 'string');
      assert.ok(['debug', 'info', 'warn', 'error', 'fatal'].includes(entry['level'] as string));
      assert.doesNotMatch(entry['msg'] as string, /\d{2,}/, 'values belong in fields, not in messages');
    }
    const listening = agent.logs.find((l) => l['msg'] === 'agent listening');
    assert.equal(listening?.['port'], agent.port);
  });

  it('keeps holds across a restart on the same database', async (t) => {
    const stateDir = tempDir(t);
    const first = await startAgent(t, { config: EXAMPLE, stateDir });
    assert.equal(await first.stop(), 0);

    const db = openDatabase({ stateDir });
    db.update(slots)
      .set({ holdReason: 'RoT probe does not attach', holdSource: 'job', holdBy: 'job 42', holdAt: Date.now() })
      .where(eq(slots.name, 'gimlet-2'))
      .run();
    db.$client.close();

    const second = await startAgent(t, { config: EXAMPLE, stateDir });
    const slot = (await getJson(`${second.url}/v1/slots/gimlet-2`)).body as SlotView;
    assert.deepEqual(
      { reason: slot.hold?.reason, source: slot.hold?.source, by: slot.hold?.by },
      { reason: 'RoT probe does not attach', source: 'job', by: 'job 42' },
    );
    assert.equal(await second.stop(), 0);
  });

  it('waits for in-flight requests on the first signal and exits at once on the second', async (t) => {
    const agent = await startAgent(t, { config: EXAMPLE, stateDir: tempDir(t) });
    // A request whose headers never finish keeps the connection busy, so the graceful stop waits.
    const socket = connect(agent.port, '127.0.0.1');
    t.after(() => socket.destroy());
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    await new Promise((resolve) => setTimeout(resolve, 100));

    agent.child.kill('SIGTERM');
    await eventually(() => agent.logs.some((l) => l['msg'] === 'signal received, stopping'), {
      message: 'the first signal to be taken',
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(agent.child.exitCode, null, 'the first signal waits for the open request');
    // The open request never finishes, so only the second signal can end the process: a graceful stop
    // would say 'agent stopped' and exit 0, the forced exit says so and exits 1.
    agent.child.kill('SIGTERM');
    assert.equal(await agent.exited, 1, 'the second signal exits at once, with the forced exit code');
    assert.ok(agent.logs.some((l) => l['msg'] === 'second signal, exiting now'));
    assert.equal(
      agent.logs.some((l) => l['msg'] === 'agent stopped'),
      false,
      'the graceful stop never finished: the second signal ended it',
    );
  });

  it('says clearly when its address is taken', async (t) => {
    const stateDir = tempDir(t);
    const first = await startAgent(t, { config: EXAMPLE, stateDir });
    const second = await runCli([
      'agent',
      '-c',
      EXAMPLE,
      '--state-dir',
      tempDir(t),
      '--listen',
      `127.0.0.1:${first.port}`,
    ]);
    assert.equal(second.code, 1);
    assert.match(
      second.stderr,
      new RegExp(`cannot listen on 127\\.0\\.0\\.1:${first.port}: the address is already in use`),
    );
    assert.equal(hasStackTrace(second.stderr), false);
    assert.equal(await first.stop(), 0);
  });

  it('rejects a malformed --listen as a usage error', async () => {
    const result = await runCli(['agent', '-c', EXAMPLE, '--listen', 'localhost']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--listen: "localhost" is not host:port/);
  });
});

describe('slot health over HTTP', () => {
  const operator = { authorization: 'Bearer demo-operator-token' };

  it('runs a slot check for an operator and shows the results, counters and history', async (t) => {
    const agent = await startAgent(t, { config: EXAMPLE, stateDir: tempDir(t) });
    const response = await fetch(`${agent.url}/v1/slots/sidecar-1/check`, {
      method: 'POST',
      headers: operator,
      signal: AbortSignal.timeout(20_000),
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as {
      slot: string;
      healthy: boolean;
      results: { name: string; ok: boolean; reason: string }[];
    };
    assert.equal(body.slot, 'sidecar-1');
    // No Sidecar is attached to this machine: every device must say so, with its own reason.
    assert.equal(body.healthy, false);
    assert.deepEqual(
      body.results.map((r) => r.name),
      ['sidecar-1-sp-probe', 'sidecar-1-power', 'sidecar-1-mgmt', 'rack-a-console-mux'],
    );
    assert.match(body.results[0]?.reason ?? '', /usb 0483:374e serial 0029003F3431511237393330 not present/);

    const slot = (await getJson(`${agent.url}/v1/slots/sidecar-1`)).body as SlotDetailView;
    assert.equal(slot.health, 'unhealthy');
    const probe = slot.devices.find((d) => d.name === 'sidecar-1-sp-probe');
    assert.equal(probe?.health, 'unhealthy');
    assert.ok(probe.total_checks >= 1);
    assert.ok(probe.history.some((h) => h.trigger === 'manual' && !h.ok));
    await agent.stop();
  });

  it('refuses a check without a token (401) and with a submitter token (403)', async (t) => {
    const agent = await startAgent(t, { config: EXAMPLE, stateDir: tempDir(t) });
    const none = await fetch(`${agent.url}/v1/slots/gimlet-1/check`, { method: 'POST' });
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'unauthorized');
    const forged = await fetch(`${agent.url}/v1/slots/gimlet-1/check`, {
      method: 'POST',
      headers: { authorization: 'Bearer not-a-token' },
    });
    assert.equal(forged.status, 401);
    const submitter = await fetch(`${agent.url}/v1/slots/gimlet-1/check`, {
      method: 'POST',
      headers: { authorization: 'Bearer demo-submitter-token' },
    });
    assert.equal(submitter.status, 403);
    assert.equal(((await submitter.json()) as { error: { code: string } }).error.code, 'forbidden');
    await agent.stop();
  });
});

describe('an agent listening beyond loopback', () => {
  it('wants a token even to read, but keeps /healthz open for monitoring', async (t) => {
    const agent = await startAgent(t, { config: EXAMPLE, stateDir: tempDir(t), listen: '0.0.0.0:0' });
    assert.equal((await fetch(`${agent.url}/healthz`)).status, 200);
    const anonymous = await fetch(`${agent.url}/v1/slots`);
    assert.equal(anonymous.status, 401);
    assert.match(((await anonymous.json()) as { error: { message: string } }).error.message, /listens beyond loopback/);
    const reader = await fetch(`${agent.url}/v1/slots`, { headers: { authorization: 'Bearer demo-submitter-token' } });
    assert.equal(reader.status, 200);
    await agent.stop();
  });
});

describe('one agent per state directory', () => {
  it('refuses a second agent, and takes over from one that was killed', async (t) => {
    const stateDir = tempDir(t);
    const first = await startAgent(t, { config: EXAMPLE, stateDir });
    const second = await runCli(['agent', '-c', EXAMPLE, '--state-dir', stateDir, '--listen', '127.0.0.1:0']);
    assert.equal(second.code, 1);
    assert.equal(
      second.stderr,
      `labslot: another agent (pid ${first.child.pid ?? 0}) is using the state directory ${stateDir}\n`,
    );
    first.child.kill('SIGKILL');
    await first.exited;
    const third = await startAgent(t, { config: EXAMPLE, stateDir });
    assert.equal((await fetch(`${third.url}/healthz`)).status, 200);
    assert.equal(await third.stop(), 0);
  });
});
