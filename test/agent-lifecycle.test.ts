// The agent's lifecycle in-process: a stop that arrives while it is starting.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { Agent } from '../src/agent.js';
import { createLogger } from '../src/log.js';
import { labFixture } from './helpers/lab-fixture.js';
import { tempDir } from './helpers/temp-dir.js';

describe('agent lifecycle', () => {
  it('stops cleanly when stop() comes during start()', async (t) => {
    const fx = labFixture(
      t,
      tempDir(t),
      `[agent]\nlisten = "127.0.0.1:8421"\n[devices.c]\nkind = "command"\nargv = ["true"]\n[slots.a]\ntarget = "t"\ndevices = ["c"]\n`,
    );
    const log = createLogger(process.stderr);
    log.level = 'warn';
    const agent = new Agent({
      lab: { ...fx.lab, listen: { host: '127.0.0.1', port: 0 } },
      log,
      hotplug: () => () => undefined,
    });
    const starting = agent.start();
    const stopping = agent.stop();
    await starting;
    await stopping;
    assert.equal(agent.currentState, 'stopped');
    const port = agent.port ?? 0;
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(true));
    });
    assert.equal(refused, true, 'nothing listens after the stop');
    await assert.rejects(agent.start(), /cannot start an agent that is stopped/);
  });
});
