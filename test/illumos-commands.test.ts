// The illumos platform's command lines and parsers, checked without illumos:
// the exact argv of the SVR4 user tools, svccfg/svcadm/pgrep, limits as
// resource controls of the worker project, what a job sees of the filesystem,
// the parsers of svcs/pgrep/prctl output, and when illumos is chosen at all.
import assert from 'node:assert/strict';

import { describe, it } from 'node:test';
import { currentPlatform } from '../src/platform/current-platform.js';
import * as cmd from '../src/platform/illumos/commands.js';
import { hostView, toHostPath } from '../src/platform/illumos/host-view.js';
import { workerFmri } from '../src/platform/illumos/manifest.js';
import {
  LimitValueError,
  lwpsVerdict,
  parsePrctlUsage,
  projaddArgv,
  projectAttributes,
} from '../src/platform/illumos/rctl.js';
import { orphanWorkerUsers, ownWorkerIds, pickWorkerId } from '../src/platform/illumos/users.js';
import { WORKER_ID_MAX, WORKER_ID_MIN } from '../src/platform/unix-users.js';

describe('what a job sees of the filesystem on illumos', () => {
  const root = '/var/opt/labslot/workers/wabc23';
  const launch = {
    cwd: '/work',
    command: ['/input/run.sh', '/tmpfile', '/tmp/x', `${root}/job.sh`],
    env: {
      TMPDIR: '/tmp',
      LABSLOT_OUTPUT: '/output',
      LABSLOT_DEVICE_CONSOLE: '/dev/labslot/console',
      HOME: `${root}/home`,
      URL: 'http://h/work',
      NESTED: '/var/tmp/a',
    },
    writable: [
      { host: `${root}/work`, inJob: '/work' },
      { host: `${root}/tmp`, inJob: '/tmp' },
      { host: `${root}/var-tmp`, inJob: '/var/tmp' },
      { host: `${root}/output`, inJob: '/output' },
      { host: `${root}/home`, inJob: `${root}/home` },
    ],
    readOnly: [
      { host: root, inJob: root },
      { host: '/var/opt/labslot/jobs/j1/input', inJob: '/input' },
    ],
    devices: [{ host: '/dev/pts/3', inJob: '/dev/labslot/console' }],
  };

  it('turns in-job paths into the host paths behind them, and leaves everything else alone', () => {
    const view = hostView(launch);
    assert.equal(view.cwd, `${root}/work`);
    assert.deepEqual(view.command, [
      '/var/opt/labslot/jobs/j1/input/run.sh',
      '/tmpfile',
      `${root}/tmp/x`,
      `${root}/job.sh`,
    ]);
    assert.deepEqual(view.env, {
      TMPDIR: `${root}/tmp`,
      LABSLOT_OUTPUT: `${root}/output`,
      LABSLOT_DEVICE_CONSOLE: '/dev/pts/3',
      HOME: `${root}/home`,
      URL: 'http://h/work',
      NESTED: `${root}/var-tmp/a`,
    });
    assert.equal(toHostPath('/', launch.writable), '/');
  });
});

describe('illumos command lines', () => {
  it('creates and deletes users and groups with the SVR4 tools', () => {
    assert.deepEqual(cmd.groupaddArgv('ls-abc23', 1234567), ['groupadd', '-g', '1234567', 'ls-abc23']);
    assert.deepEqual(cmd.useraddArgv({ name: 'ls-abc23', groups: ['dialout', 'plugdev'], home: '/w/home' }, 1234567), [
      'useradd',
      '-u',
      '1234567',
      '-g',
      '1234567',
      '-G',
      'dialout,plugdev',
      '-d',
      '/w/home',
      '-s',
      '/bin/sh',
      '-c',
      'labslot worker',
      'ls-abc23',
    ]);
    assert.deepEqual(cmd.useraddArgv({ name: 'ls-x', groups: [], home: '/h' }, 1048576), [
      'useradd',
      '-u',
      '1048576',
      '-g',
      '1048576',
      '-d',
      '/h',
      '-s',
      '/bin/sh',
      '-c',
      'labslot worker',
      'ls-x',
    ]);
    assert.deepEqual(cmd.userdelArgv('ls-x'), ['userdel', 'ls-x']);
    assert.deepEqual(cmd.groupdelArgv('ls-x'), ['groupdel', 'ls-x']);
    assert.deepEqual(cmd.getentPasswdArgv(1048576), ['getent', 'passwd', '1048576']);
  });

  it('imports, enables until reboot, watches and deletes the instance, and finds processes by uid in this zone', () => {
    const fmri = workerFmri('wabc23');
    assert.deepEqual(cmd.svccfgImportArgv('/w/instance.xml'), ['svccfg', 'import', '/w/instance.xml']);
    assert.deepEqual(cmd.svcadmEnableArgv(fmri), ['svcadm', 'enable', '-t', fmri]);
    assert.deepEqual(cmd.svcsStateArgv(fmri), ['svcs', '-H', '-o', 'state,nstate', fmri]);
    assert.deepEqual(cmd.svccfgDeleteArgv(fmri), ['svccfg', 'delete', '-f', fmri]);
    assert.deepEqual(cmd.svcsWorkerInstancesArgv(), ['svcs', '-H', '-o', 'fmri', 'svc:/application/labslot/worker']);
    assert.deepEqual(cmd.startPidArgv(fmri), ['svcprop', '-p', 'restarter/start_pid', fmri]);
    assert.deepEqual(cmd.pgrepArgv(1234567, 'global'), ['pgrep', '-z', 'global', '-U', '1234567']);
  });

  it('picks ids from [2^20, 2^30), inside illumos MAXUID, skipping taken ones', () => {
    const draws = [WORKER_ID_MIN, WORKER_ID_MIN + 1];
    assert.equal(
      pickWorkerId(new Set([WORKER_ID_MIN]), () => draws.shift() ?? 0),
      WORKER_ID_MIN + 1,
    );
    assert.ok(WORKER_ID_MAX < 2147483646);
  });

  it('finds this agent orphan worker users: ls-*, in range, home under its workers directory, unknown', () => {
    const passwd = [
      'root:x:0:0::/root:/bin/sh',
      'ls-aaa:x:1048577:1048577:labslot worker:/var/opt/labslot/workers/waaa/home:/bin/sh',
      'ls-bbb:x:1048578:1048578::/var/opt/labslot/workers/wbbb/home:/bin/sh',
      'ls-ccc:x:1048579:1048579::/var/opt/labslot/workers-other/wccc/home:/bin/sh',
      'ls-ddd:x:500:500::/var/opt/labslot/workers/wddd/home:/bin/sh',
      'garbage line',
    ].join('\n');
    const found = orphanWorkerUsers(passwd, '/var/opt/labslot/workers/', new Set(['wbbb']));
    assert.deepEqual(
      found.map((u) => [u.name, u.uid, u.workerId]),
      [['ls-aaa', 1048577, 'waaa']],
    );
  });

  it("takes instances, projects and logs only of workers whose user is this agent's: never another agent's, never one without a user", () => {
    const passwd = [
      'ls-aaa:x:1048577:1048577::/var/opt/labslot/workers/waaa/home:/bin/sh',
      'ls-ccc:x:1048579:1048579::/var/opt/other-agent/workers/wccc/home:/bin/sh',
    ].join('\n');
    const ours = ownWorkerIds(passwd, '/var/opt/labslot/workers');
    assert.deepEqual([...ours], ['waaa']);
    assert.equal(ours.has('wccc'), false, "another agent's worker");
    assert.equal(ours.has('wgone'), false, "a worker whose user is gone is nobody's to sweep");
  });
});

describe('limits as resource controls of the worker project', () => {
  it('maps pids, cpus and memory, counting the start method in the LWP cap', () => {
    assert.deepEqual(projectAttributes({ pids: 64, cpus: 1.5, memoryBytes: 256 * 2 ** 20 }), [
      'project.max-lwps=(privileged,65,deny)',
      'project.cpu-cap=(privileged,150,deny)',
      `process.max-address-space=(privileged,${256 * 2 ** 20},deny)`,
      `rcap.max-rss=${256 * 2 ** 20}`,
    ]);
    assert.deepEqual(projectAttributes({ cpus: 0.001 }), ['project.cpu-cap=(privileged,1,deny)']);
    assert.deepEqual(projectAttributes({}), []);
    assert.deepEqual(projaddArgv('labslot.wabc23', 'ls-abc23', 'wabc23', { pids: 10 }), [
      'projadd',
      '-c',
      'labslot worker wabc23',
      '-U',
      'ls-abc23',
      '-K',
      'project.max-lwps=(privileged,11,deny)',
      'labslot.wabc23',
    ]);
    for (const bad of [{ pids: 0 }, { pids: 1.5 }, { memoryBytes: -1 }, { cpus: Number.NaN }])
      assert.throws(() => projectAttributes(bad), LimitValueError);
  });

  it('says a job hit its process limit when a sample of the project saw the cap', () => {
    const prctl =
      'project: 104: labslot.wabc23\nproject.max-lwps usage 65 - - -\nproject.max-lwps privileged 65 - deny -\nproject.max-lwps system 2147483647 max deny -\n';
    assert.equal(parsePrctlUsage(prctl, 'project.max-lwps'), 65);
    assert.equal(parsePrctlUsage('prctl: labslot.wx: No controllable process found\n', 'project.max-lwps'), undefined);
    assert.equal(lwpsVerdict({ pids: 64 }, 65), "process limit of 64 reached: the job's project hit project.max-lwps");
    assert.equal(lwpsVerdict({ pids: 64 }, 40), undefined);
    assert.equal(lwpsVerdict({}, 1000), undefined);
  });
});

describe('parsing what illumos prints', () => {
  it('reads svcs states, instance lists, pids and the start method pid', () => {
    assert.deepEqual(cmd.parseSvcsState('online         -\n'), { state: 'online', next: '-' });
    assert.deepEqual(cmd.parseSvcsState('offline        online\n'), { state: 'offline', next: 'online' });
    assert.deepEqual(cmd.parseSvcsState('maintenance    -\n'), { state: 'maintenance', next: '-' });
    assert.equal(
      cmd.parseSvcsState("svcs: Pattern 'svc:/application/labslot/worker:wx' doesn't match any instances\n"),
      undefined,
    );
    assert.equal(
      cmd.isNoMatch("svcs: Pattern 'svc:/application/labslot/worker:wx' doesn't match any instances\n"),
      true,
    );
    assert.deepEqual(
      cmd.parseWorkerFmris(
        'svc:/application/labslot/worker:wabc\nsvc:/application/labslot/worker:default\nsvc:/application/labslot:default\nsvc:/application/labslot/worker:w2x\n',
      ),
      ['svc:/application/labslot/worker:wabc', 'svc:/application/labslot/worker:w2x'],
    );
    assert.deepEqual(cmd.parsePids('101\n202\n\n303\n'), [101, 202, 303]);
    assert.equal(cmd.parseStartPid('4242\n'), 4242);
    assert.equal(cmd.parseStartPid("svcprop: Couldn't find property\n"), undefined);
  });
});

describe('platform choice', () => {
  it('runs jobs through SMF on illumos and through the Linux sandbox elsewhere', () => {
    assert.equal(currentPlatform('/var/lib/labslot', 'sunos').name, 'illumos');
    assert.equal(currentPlatform('/var/lib/labslot', 'linux').name, 'linux');
  });
});
