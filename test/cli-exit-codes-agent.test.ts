// The `labslot agent` rows of README.md's exit-code table, walked against the
// built agent; see cli-exit-codes.test.ts for the check that every row is
// walked exactly once.
import { describe, it } from 'node:test';
import { AGENT_SCENARIOS, type AgentContext } from './helpers/exit-codes/agent.js';
import { badConfig, walk, writeConfig } from './helpers/exit-codes/table.js';
import { tempDir } from './helpers/temp-dir.js';

describe('exit codes, as README.md tabulates them', () => {
  it('agent rows: stopped, refused by the host, refused by its config', async (t) => {
    const dir = tempDir(t);
    const context: AgentContext = { t, dir, good: writeConfig(dir, 'agent', 'true'), bad: badConfig(dir) };
    await walk(AGENT_SCENARIOS, context);
  });
});
