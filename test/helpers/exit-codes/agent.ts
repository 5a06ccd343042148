// Exit-code scenarios of `labslot agent` itself: stopped, refused by the
// host, refused by its config.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { startAgent } from '../agent-process.js';
import { cli, type Scenario, type Scenarios } from './table.js';

export interface AgentContext {
  t: TestContext;
  dir: string;
  good: string;
  bad: string;
}

export const AGENT_SCENARIOS: Scenarios<AgentContext> = new Map<string, Scenario<AgentContext>>([
  [
    'labslot agent -c FILE — stopped by SIGTERM or SIGINT',
    {
      run: async (c) => {
        const byTerm = await startAgent(c.t, { config: c.good, stateDir: join(c.dir, 'state-term') });
        const byInt = await startAgent(c.t, { config: c.good, stateDir: join(c.dir, 'state-int') });
        return [
          { code: await byTerm.stop('SIGTERM'), output: byTerm.stderr() },
          { code: await byInt.stop('SIGINT'), output: byInt.stderr() },
        ];
      },
    },
  ],
  [
    'labslot agent -c FILE — it cannot listen, open its database, or lock its state directory',
    {
      run: async (c) => {
        const stateDir = join(c.dir, 'state-busy');
        const running = await startAgent(c.t, { config: c.good, stateDir });
        const damaged = join(c.dir, 'state-damaged');
        mkdirSync(damaged);
        writeFileSync(
          join(damaged, 'labslot.db'),
          'this is not a SQLite database, and it is long enough to have a header\n'.repeat(20),
        );
        return [
          await cli([
            'agent',
            '-c',
            c.good,
            '--state-dir',
            join(c.dir, 'state-other'),
            '--listen',
            `127.0.0.1:${running.port}`,
          ]),
          await cli(['agent', '-c', c.good, '--state-dir', stateDir, '--listen', '127.0.0.1:0']),
          await cli(['agent', '-c', c.good, '--state-dir', damaged, '--listen', '127.0.0.1:0']),
        ];
      },
    },
  ],
  [
    'labslot agent -c FILE — a bad config or `--listen`',
    {
      run: async (c) => [
        await cli(['agent', '-c', c.bad, '--state-dir', join(c.dir, 'state-bad')]),
        await cli(['agent', '-c', c.good, '--state-dir', join(c.dir, 'state-bad'), '--listen', 'nope']),
      ],
    },
  ],
]);
