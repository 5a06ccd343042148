// Jobs cannot talk to each other over abstract Unix sockets (DESIGN §8,
// README Status, "Abstract Unix sockets"): two jobs at once on different slots, a
// real agent, real worker users, this machine's kernel. On a kernel with
// Landlock ABI 6 the second job's connect is refused; on an older one the
// test asserts the documented fallback (it connects) and says so.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  abstractName,
  CONNECT_PY,
  LANDLOCK_ABI,
  LISTEN_PY,
  ON_KERNEL,
  SCOPED,
  talkTo,
} from './helpers/abstract-socket.js';
import { landlockLauncher } from '../src/platform/linux/landlock.js';
import { jobLab } from './helpers/job-lab.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';

describe(`abstract Unix sockets between jobs (${ON_KERNEL})`, () => {
  it(`${SCOPED ? 'refuses' : 'allows (fallback: no ABI 6)'} a job's connect to another job's socket; the host and the job itself reach it`, async (t) => {
    if (!requires(t, ROOT, command('python3'), command('setpriv', ['--version']))) return;
    const lab = await jobLab(t, [
      { name: 'rack-1', target: 'board' },
      { name: 'rack-2', target: 'board' },
    ]);
    const logged = lab.agent.logs.find((line) => typeof line['msg'] === 'string' && /landlock/i.test(line['msg']));
    // The agent runs the launcher this checkout would (native once built with a C compiler, else python3).
    const launcher = landlockLauncher().kind;
    assert.deepEqual(
      logged && { level: logged['level'], abi: logged['abi'], launcher: logged['launcher'], msg: logged['msg'] },
      SCOPED
        ? {
            level: 'info',
            abi: LANDLOCK_ABI,
            launcher,
            msg: `landlock ABI ${LANDLOCK_ABI}: abstract Unix sockets are scoped per job`,
          }
        : {
            level: 'warn',
            abi: LANDLOCK_ABI,
            launcher,
            msg: `kernel lacks Landlock ABI 6 (has ${LANDLOCK_ABI}): jobs can reach each other's abstract Unix sockets; upgrade to kernel 6.12+`,
          },
      'the agent says at start what jobs get on this kernel',
    );

    const name = abstractName('job-a');
    // Job A listens, then connects to its own socket from another of its processes (the same domain).
    const a = await lab.submit({
      target: 'board',
      script: [
        `python3 -c '${LISTEN_PY}' ${name} A &`,
        `for i in $(seq 100); do out=$(python3 -c '${CONNECT_PY}' ${name}); [ "$out" != connect=ECONNREFUSED ] && break; sleep 0.1; done`,
        'echo "self: $out"',
        'wait',
      ].join('\n'),
    });
    await lab.waitOutput(a, /^self: connect=ok reply=from-A$/m);
    // Job B, on the other slot while A still runs, tries A's socket.
    const b = await lab.submit({ target: 'board', script: `python3 -c '${CONNECT_PY}' ${name}` });
    const jobB = await lab.waitDone(b);
    const outB = await lab.output(b);
    // The control: the socket is there, for a process outside any job; its "stop" ends job A.
    assert.equal(await talkTo(name, 'stop'), 'connect=ok reply=from-A\n', 'the host reaches job A');
    const jobA = await lab.waitDone(a);

    assert.deepEqual(
      { a: jobA.slot, b: jobB.slot, aState: jobA.state, bState: jobB.state },
      { a: 'rack-1', b: 'rack-2', aState: 'succeeded', bState: 'succeeded' },
      `A: ${await lab.output(a)}\nB: ${outB}`,
    );
    if (SCOPED) assert.equal(outB, 'connect=EPERM\n', "job B cannot connect to job A's abstract socket");
    else {
      assert.equal(outB, 'connect=ok reply=from-A\n', 'without ABI 6, jobs share abstract sockets (README)');
      t.diagnostic(`${ON_KERNEL} lacks Landlock ABI 6: asserted the documented fallback (job B connects)`);
    }
    t.diagnostic(`ran on ${ON_KERNEL}, ${launcher} launcher`);
  });
});
