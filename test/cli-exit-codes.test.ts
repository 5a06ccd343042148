// The exit-code table of README.md ("### Exit codes") is the contract. Its rows
// are walked against the built CLI by group, each in its own file:
// cli-exit-codes-offline (usage and config errors, no agent), -lab (client
// commands against a real agent) and -agent (the agent command itself). This
// file checks that every row has exactly one scenario among those groups and
// every scenario its row, so the README and the CLI cannot drift apart.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AGENT_SCENARIOS } from './helpers/exit-codes/agent.js';
import { LAB_SCENARIOS } from './helpers/exit-codes/lab.js';
import { OFFLINE_SCENARIOS } from './helpers/exit-codes/offline.js';
import { key, readTable } from './helpers/exit-codes/table.js';

describe('exit codes, as README.md tabulates them', () => {
  const rows = readTable();

  it('has a scenario here for every row of the table, and a row for every scenario', () => {
    assert.ok(rows.length >= 40, `only ${rows.length} rows`);
    const keys = rows.map(key);
    assert.deepEqual(
      keys.filter((k, i) => keys.indexOf(k) !== i),
      [],
      'rows that say the same twice',
    );
    const groups = [OFFLINE_SCENARIOS, LAB_SCENARIOS, AGENT_SCENARIOS];
    assert.deepEqual(
      keys.filter((k) => !groups.some((g) => g.has(k))),
      [],
      'rows without a scenario in test/helpers/exit-codes/',
    );
    // Each group's file walks its own rows: a row in two groups would be checked twice.
    assert.deepEqual(
      keys.filter((k) => groups.filter((g) => g.has(k)).length > 1),
      [],
      'rows with a scenario in more than one group',
    );
    assert.deepEqual(
      groups.flatMap((g) => [...g.keys()]).filter((k) => !keys.includes(k)),
      [],
      'scenarios without a row in the README',
    );
  });
});
