// A job (or any client) that opens connection after connection to the agent
// and sends half a request must not stop it: the agent keeps at most
// CONNECTION_LIMITS.perAddress from one address, closes the rest at once, and
// meanwhile answers others, checks its devices and runs jobs. The attack comes
// from 127.0.0.2, the rest of the world from 127.0.0.1.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { CONNECTION_LIMITS } from '../src/http/listen.js';
import { jobLab, OPERATOR_TOKEN } from './helpers/job-lab.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';
import { eventually } from './helpers/eventually.js';

const ATTACK = 1500;

/** Opens a connection from `localAddress` and sends the start of a request, never its end. */
function halfRequest(port: number, localAddress: string): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(undefined);
    }, 5_000);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.write('GET /v1/slots HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
      resolve(socket);
    });
    socket.once('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}

describe('the agent under a connection flood', () => {
  it(`keeps serving with ${ATTACK} half-open connections from one address, and holds at most its per-address limit of them`, async (t) => {
    if (
      !requires(t, ROOT, command('socat', ['-V']), command('bwrap', ['--version']), command('prlimit', ['--version']))
    )
      return;
    // A small descriptor budget, so a flood that were let through would exhaust it.
    const lab = await jobLab(
      t,
      [{ name: 's1', target: 'tb', devices: ['s1-true'] }],
      '[devices.s1-true]\nkind = "command"\nargv = ["true"]\n',
      'stop_grace = "1s"',
      {
        wrapper: ['prlimit', '--nofile=600:600', '--'],
      },
    );
    const sockets: Socket[] = [];
    const closed = new Set<Socket>();
    t.after(() => {
      for (const socket of sockets) socket.destroy();
    });
    for (let i = 0; i < ATTACK; i += 1) {
      const socket = await halfRequest(lab.agent.port, '127.0.0.2');
      if (socket === undefined) continue;
      sockets.push(socket);
      socket.once('close', () => closed.add(socket));
      socket.on('error', () => undefined);
    }
    await eventually(() => sockets.length - closed.size <= CONNECTION_LIMITS.perAddress, {
      timeoutMs: 15_000,
      message: 'the agent closed what is over the per-address limit',
    });
    const held = sockets.length - closed.size;
    t.diagnostic(`${sockets.length} connections opened from 127.0.0.2; the agent holds ${held}, closed ${closed.size}`);
    assert.ok(held > 0, 'it did take some');

    // Meanwhile, from another address: the API answers, a device check (a spawned program) passes, and a job runs.
    assert.equal((await fetch(`${lab.agent.url}/healthz`, { signal: AbortSignal.timeout(10_000) })).status, 200);
    const check = await lab.post('/v1/slots/s1/check', {}, OPERATOR_TOKEN);
    assert.equal(check.status, 200, JSON.stringify(check.json));
    assert.equal(JSON.stringify(check.json).includes('"ok":false'), false, JSON.stringify(check.json));
    const id = await lab.submit({ target: 'tb', script: 'echo still here' });
    const job = await lab.waitDone(id);
    assert.equal(job.state, 'succeeded', JSON.stringify(job));
    assert.equal(lab.agent.child.exitCode, null, 'the agent is still running');
    assert.ok(
      lab.agent.logs.some((l) => l['msg'] === 'too many connections from one address; refusing more'),
      'the refusal is logged',
    );
  });
});
