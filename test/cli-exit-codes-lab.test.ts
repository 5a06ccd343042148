// The client-command rows of README.md's exit-code table, walked against a
// real agent on real PTY consoles (jobs run as real throwaway users); see
// cli-exit-codes.test.ts for the check that every row is walked exactly once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LAB_SCENARIOS, POWER_TOML, type LabContext } from './helpers/exit-codes/lab.js';
import { walk } from './helpers/exit-codes/table.js';
import { jobLab, OPERATOR_TOKEN, SUBMITTER_TOKEN } from './helpers/job-lab.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';

describe('exit codes, as README.md tabulates them', () => {
  it('client rows, against a real agent that runs jobs', async (t) => {
    if (!requires(t, ROOT, command('socat', ['-V']), command('bwrap', ['--version']))) return;
    const sidecars = [1, 2, 3, 4, 5].map((n) => ({ name: `sidecar-${n}`, target: 'sidecar' }));
    const lab = await jobLab(
      t,
      [
        { name: 'gimlet-1', target: 'gimlet', devices: ['gimlet-1-power'] },
        ...sidecars,
        { name: 'psc-1', target: 'psc' },
        { name: 'pwr-1', target: 'pwr', devices: ['pwr-1-power'] },
      ],
      POWER_TOML,
    );
    const done = await lab.submit({ target: 'gimlet', argv: ['true'] });
    const withOutputs = await lab.submit({ target: 'gimlet', script: 'echo pass > "$LABSLOT_OUTPUT/result.txt"' });
    for (const id of [done, withOutputs]) assert.equal((await lab.waitDone(id, 60_000)).state, 'succeeded', id);
    const url = { LABSLOT_URL: lab.agent.url };
    const context: LabContext = {
      lab,
      done,
      withOutputs,
      operator: { ...url, LABSLOT_TOKEN: OPERATOR_TOKEN },
      submitter: { ...url, LABSLOT_TOKEN: SUBMITTER_TOKEN },
    };
    await walk(LAB_SCENARIOS, context);
  });
});
