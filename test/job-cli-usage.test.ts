// The job and worker commands' usage errors: exit 2 and one clear line before
// any network, and exit 1 in one line when no agent listens.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hasStackTrace, LABSLOT_BIN, PROJECT_ROOT } from './helpers/cli.js';
import { freePort } from './helpers/free-port.js';
import { cli, lines, OPERATOR, SUBMITTER } from './helpers/job-cli.js';

describe('job and worker commands: usage errors', () => {
  it('rejects bad arguments with exit 2 and one clear line, before talking to any agent', async () => {
    // Nothing listens here: a command that got as far as the network would exit 1, not 2.
    const env = { LABSLOT_URL: `http://127.0.0.1:${await freePort()}`, LABSLOT_TOKEN: SUBMITTER };
    const cases: [string[], RegExp][] = [
      [
        ['job', 'run', '--', 'true'],
        /^labslot: give --target TARGET \(any slot of it\) or --slot NAME \(that slot only\)\n$/,
      ],
      [['job', 'run', '--target', 'gimlet', '--allow-held', '--', 'true'], /^labslot: --allow-held needs --slot NAME/],
      [['job', 'submit', '--slot', ' ', '--', 'true'], /^labslot: --slot: name the slot, e.g. --slot gimlet-1\n$/],
      [['job', 'run', '--target', 'gimlet'], /^labslot: missing required argument 'command'$/m],
      [
        ['job', 'run', '--target', 'gimlet', '--env', 'NOEQUALS', '--', 'true'],
        /^labslot: --env "NOEQUALS": expected NAME=VALUE, e.g. --env BOARD_REV=b\n$/,
      ],
      [
        ['job', 'run', '--target', 'gimlet', '--env', 'A=1', '--env', '1BAD=x', '--', 'true'],
        /^labslot: --env "1BAD=x": "1BAD" is not an environment variable name/,
      ],
      [
        ['job', 'run', '--target', 'gimlet', '--env', '=x', '--', 'true'],
        /^labslot: --env "=x": "" is not an environment variable name/,
      ],
      [
        ['job', 'run', '--target', 'gimlet', '--env', 'LD_PRELOAD=/tmp/x.so', '--', 'true'],
        /^labslot: --env "LD_PRELOAD=\/tmp\/x\.so": "LD_PRELOAD" changes how programs are loaded, and jobs may not set it\n$/,
      ],
      [
        ['job', 'run', '--target', 'gimlet', '--env', 'LABSLOT_SLOT=other', '--', 'true'],
        /^labslot: --env "LABSLOT_SLOT=other": "LABSLOT_SLOT" is set by labslot itself\n$/,
      ],
      [
        ['job', 'run', '--target', 'gimlet', '--timeout', '10 min', '--', 'true'],
        /^labslot: --timeout "10 min" is not a duration \(e\.g\. 90s, 10m, 1h30m\)\n$/,
      ],
      [
        ['job', 'run', '--target', 'gimlet', '--timeout', '10', '--', 'true'],
        /^labslot: --timeout "10" is not a duration/,
      ],
      [
        ['job', 'run', '--target', 'gimlet', '--timeout', '0s', '--', 'true'],
        /^labslot: --timeout "0s": a job needs more than no time at all\n$/,
      ],
      [
        ['job', 'run', '--target', 'gimlet', '--priority', 'high', '--', 'true'],
        /^labslot: --priority "high": expected a whole number from -1000 to 1000\n$/,
      ],
      [['job', 'run', '--target', 'gimlet', '--priority', '1001', '--', 'true'], /^labslot: --priority "1001"/],
      [['job', 'run', '--target', '', '--', 'true'], /^labslot: --target: name the kind of testbed/],
      [['job', 'run', '--target', 'gimlet', '--', ''], /^labslot: the command is empty/],
      [
        ['job', 'submit', '--target', 'gimlet'],
        /^labslot: nothing to run: give -- CMD \[ARG\]\.\.\. or --script FILE\n$/,
      ],
      [
        ['job', 'submit', '--target', 'gimlet', '--script', '/nonexistent/test.sh'],
        /^labslot: --script \/nonexistent\/test\.sh: cannot read it \(no such file\)\n$/,
      ],
      [
        ['job', 'submit', '--target', 'gimlet', '--script', PROJECT_ROOT],
        /^labslot: --script .*: cannot read it \(it is a directory\)\n$/,
      ],
      [
        ['job', 'submit', '--target', 'gimlet', '--script', LABSLOT_BIN, '--', 'true'],
        /^labslot: give either --script FILE or -- CMD \[ARG\]\.\.\., not both\n$/,
      ],
      [
        ['job', 'list', '--state', 'done'],
        /^labslot: --state "done": expected one of queued, leased, running, cleaning, succeeded, failed, cancelled\n$/,
      ],
      [['job', 'list', '--limit', '0'], /^labslot: --limit "0": expected a whole number above 0\n$/],
      [['job', 'status'], /^labslot: missing required argument 'id'$/m],
      [['worker', 'mark-broken'], /^labslot: required option '-m, --message <message>' not specified$/m],
      [
        ['job', 'list', '--jsn'],
        /^labslot: unknown option '--jsn'\nlabslot: did you mean --json\?\nlabslot: see 'labslot job list --help'\n$/,
      ],
    ];
    const results = await Promise.all(cases.map(([args]) => cli(args, env)));
    for (const [index, [args, expected]] of cases.entries()) {
      const result = results[index];
      assert.ok(result);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, expected, args.join(' '));
      assert.equal(result.stdout, '', args.join(' '));
      assert.equal(hasStackTrace(result.stderr), false, args.join(' '));
      // Commander's own errors too: every line has the one prefix.
      assert.deepEqual(
        lines(result.stderr).filter((line) => !line.startsWith('labslot: ')),
        [],
        args.join(' '),
      );
    }
  });

  it('worker mark-broken outside a job says so in one line and exits 2', async () => {
    const outside = await cli(['worker', 'mark-broken', '-m', 'SP probe does not attach']);
    assert.equal(outside.code, 2);
    assert.equal(
      outside.stderr,
      'labslot: worker mark-broken only works inside a labslot job (LABSLOT_URL, LABSLOT_TOKEN, LABSLOT_WORKER are not set)\n',
    );
    // An operator with LABSLOT_URL and LABSLOT_TOKEN in their shell is still not inside a job.
    const operator = await cli(['worker', 'mark-broken', '-m', 'x'], {
      LABSLOT_URL: 'http://127.0.0.1:8421',
      LABSLOT_TOKEN: OPERATOR,
    });
    assert.equal(operator.code, 2);
    assert.equal(
      operator.stderr,
      'labslot: worker mark-broken only works inside a labslot job (LABSLOT_WORKER is not set)\n',
    );
    const inJob = {
      LABSLOT_URL: `http://127.0.0.1:${await freePort()}`,
      LABSLOT_TOKEN: 'worker-token',
      LABSLOT_WORKER: 'w1',
    };
    const blank = await cli(['worker', 'mark-broken', '-m', '  '], inJob);
    assert.deepEqual([blank.code, blank.stderr], [2, 'labslot: -m: say what is wrong with the testbed\n']);
    const long = await cli(['worker', 'mark-broken', '-m', 'x'.repeat(1001)], inJob);
    assert.deepEqual([long.code, long.stderr], [2, 'labslot: -m: the message is 1001 characters; at most 1000 fit\n']);
  });

  it('says in one line, exit 1, when no agent is listening', async () => {
    const port = await freePort();
    const env = { LABSLOT_URL: `http://127.0.0.1:${port}`, LABSLOT_TOKEN: SUBMITTER };
    const refused = `labslot: cannot reach the agent at http://127.0.0.1:${port}/: connection refused (is the agent running?)\n`;
    const commands = [
      ['job', 'run', '--target', 'gimlet', '--', 'true'],
      ['job', 'submit', '--target', 'gimlet', '--', 'true'],
      ['job', 'status', 'j1'],
      ['job', 'logs', 'j1'],
      ['job', 'logs', '-f', 'j1'],
      ['job', 'cancel', 'j1'],
      ['job', 'list'],
    ];
    const results = await Promise.all(commands.map((args) => cli(args, env)));
    for (const [index, args] of commands.entries()) {
      const result = results[index];
      assert.deepEqual([result?.code, result?.stderr, result?.stdout], [1, refused, ''], args.join(' '));
    }
    const worker = await cli(['worker', 'mark-broken', '-m', 'x'], { ...env, LABSLOT_WORKER: 'w1' });
    assert.deepEqual([worker.code, worker.stderr], [1, refused]);
  });
});
