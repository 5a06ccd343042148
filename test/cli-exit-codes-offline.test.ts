// The rows of README.md's exit-code table that need no agent (usage errors,
// config commands, an unreachable agent), walked against the built CLI; see
// cli-exit-codes.test.ts for the check that every row is walked exactly once.
import { describe, it } from 'node:test';
import { OFFLINE_SCENARIOS, type OfflineContext } from './helpers/exit-codes/offline.js';
import { badConfig, walk, writeConfig } from './helpers/exit-codes/table.js';
import { tempDir } from './helpers/temp-dir.js';

describe('exit codes, as README.md tabulates them', () => {
  it('usage, configuration and unreachable-agent rows, without an agent', async (t) => {
    const dir = tempDir(t);
    const context: OfflineContext = {
      dir,
      good: writeConfig(dir, 'good', 'true'),
      unhealthy: writeConfig(dir, 'sick', 'false'),
      bad: badConfig(dir),
    };
    await walk(OFFLINE_SCENARIOS, context);
  });
});
