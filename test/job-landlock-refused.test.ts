// A job whose Landlock scope cannot be made, with a real agent: the agent
// runs under a seccomp filter that fails landlock_restrict_self (as a
// container runtime's filter might), so its start-up probe still finds the
// kernel's ABI while every job's launcher fails to enter its domain. The job
// must not run, and the operator must see why: an infrastructure failure with
// the launcher's own line (told on a descriptor the job never holds, so no
// job can fake one), and the slot held, since every job sent to it would fail
// the same way. On a kernel without ABI 6 the job runs unscoped, as the agent
// warned at start (README Status, "Abstract Unix sockets").
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ON_KERNEL, SCOPED } from './helpers/abstract-socket.js';
import { eventually } from './helpers/eventually.js';
import { jobLab } from './helpers/job-lab.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';
import { C_COMPILER, ENOSYS, LANDLOCK_RESTRICT_SELF, syscallErrno } from './helpers/syscall-errno.js';

describe(`a job whose Landlock scope cannot be made (${ON_KERNEL})`, () => {
  it(
    SCOPED
      ? 'never runs, and ends as an infrastructure failure that says why'
      : 'runs unscoped (no ABI 6: the documented fallback)',
    async (t) => {
      if (!requires(t, ROOT, command('python3'), command('setpriv', ['--version']), C_COMPILER)) return;
      const wrapper = syscallErrno(t)(LANDLOCK_RESTRICT_SELF, ENOSYS);
      const lab = await jobLab(t, [{ name: 'rack-1', target: 'board' }], '', undefined, { wrapper });
      const id = await lab.submit({ target: 'board', script: 'echo the job ran' });
      const job = await lab.waitDone(id);
      const output = await lab.output(id);
      if (!SCOPED) {
        assert.equal(job.state, 'succeeded', output);
        assert.equal(output, 'the job ran\n');
        t.diagnostic(`${ON_KERNEL} lacks Landlock ABI 6: asserted the documented fallback (the job runs unscoped)`);
        return;
      }
      const line =
        'labslot-landlock: landlock_restrict_self: Function not implemented: the job does not start without its abstract-socket scope';
      assert.deepEqual(
        {
          state: job.state,
          endedBy: job.ended_by,
          infrastructure: job.infrastructure,
          reason: job.end_reason,
          exitCode: job.exit_code,
        },
        {
          state: 'failed',
          endedBy: 'infrastructure',
          infrastructure: true,
          reason: `the sandbox refused to start the job: ${line}`,
          exitCode: null,
        },
        output,
      );
      // The job's own output says the same (the launcher's stderr is the job's), and the job never ran.
      assert.equal(output, `${line}\n`);
      const held = await eventually(async () => (await lab.slot('rack-1')).hold ?? false, {
        message: 'the slot is held after the refused job',
      });
      assert.deepEqual(
        { reason: held.reason, source: held.source },
        { reason: `the sandbox refused to start the job: ${line}`, source: 'system' },
      );
    },
  );
});
