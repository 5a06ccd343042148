// The rows of README.md's exit-code table that need no agent (usage errors,
// config commands, an unreachable agent), walked against the built CLI; see
// cli-exit-codes.test.ts for the check that every row is walked exactly once.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { lifo } from './helpers/cleanup.js';
import { OFFLINE_SCENARIOS, type OfflineContext } from './helpers/exit-codes/offline.js';
import { badConfig, walk, writeConfig } from './helpers/exit-codes/table.js';
import { requires } from './helpers/prerequisites.js';
import { tempDir } from './helpers/temp-dir.js';
import { OPENSSL, testCerts } from './helpers/tls-certs.js';

describe('exit codes, as README.md tabulates them', () => {
  it('usage, configuration and unreachable-agent rows, without an agent', async (t) => {
    if (!requires(t, OPENSSL)) return;
    const dir = tempDir(t);
    // Stands in for an HTTPS agent: the client refuses it at the handshake, before any request.
    const certs = testCerts(t);
    const server = createServer({ cert: readFileSync(certs.cert), key: readFileSync(certs.key) }, (_req, res) =>
      res.end('{}'),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    lifo(t).after(() => new Promise((resolve) => server.close(resolve)));
    const context: OfflineContext = {
      dir,
      https: { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}` },
      good: writeConfig(dir, 'good', 'true'),
      unhealthy: writeConfig(dir, 'sick', 'false'),
      bad: badConfig(dir),
    };
    await walk(OFFLINE_SCENARIOS, context);
  });
});
