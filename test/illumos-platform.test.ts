// The illumos platform cannot run here (no SMF, no projects, no ksh93), so
// these tests check what it generates and how it reads what illumos answers:
// the worker instance manifest and the smf/ manifests (well-formed, in the SMF
// DTD's order, with the right credentials and privileges), the escaping that
// keeps a job's values out of XML and shell syntax, the exact command lines,
// limits as resource controls, the parsers of svcs/pgrep/prctl output, and the
// exit-status protocol. The parts that are plain POSIX (the job's launch
// script, the start method, the output FIFO) run for real with the local sh.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { currentPlatform } from '../src/platform/current-platform.js';
import * as cmd from '../src/platform/illumos/commands.js';
import { hostView, toHostPath } from '../src/platform/illumos/host-view.js';
import { watchInstance, type InstanceProbe } from '../src/platform/illumos/instance-watch.js';
import {
  JOB_PRIVILEGES,
  methodExec,
  smfLogPath,
  WorkerIdError,
  workerFmri,
  workerInstanceManifest,
  workerProject,
} from '../src/platform/illumos/manifest.js';
import { OutputPipe } from '../src/platform/illumos/output-pipe.js';
import {
  LimitValueError,
  lwpsVerdict,
  parsePrctlUsage,
  projaddArgv,
  projectAttributes,
} from '../src/platform/illumos/rctl.js';
import { orphanWorkerUsers, ownWorkerIds, pickWorkerId } from '../src/platform/illumos/users.js';
import {
  exitFromRecords,
  LaunchError,
  launchScript,
  parseWorkerRecords,
  workerStartMethod,
} from '../src/platform/illumos/worker-method.js';
import { xmlAttr, XmlValueError } from '../src/platform/illumos/xml.js';
import { WORKER_ID_MAX, WORKER_ID_MIN } from '../src/platform/unix-users.js';
import { command, requires } from './helpers/prerequisites.js';
import { smfDtdViolations } from './helpers/smf-dtd.js';
import { tempDir } from './helpers/temp-dir.js';
import { allElements, parseXml, type XmlElement } from './helpers/xml-parse.js';

/** Values a job or a configuration could hold that would break naive XML or shell quoting. */
const NASTY = [
  'a<b',
  'x & y',
  'say "hi"',
  "it's",
  'line1\nline2\r\n\tend',
  'cdata ]]> end',
  '"/><envvar name="LD_PRELOAD" value="/tmp/evil.so',
  '$(touch CANARY) `touch CANARY` ${HOME}',
  '100% %i %{x}',
  '-rf',
  '',
  '日本語 ✓',
  'back\\slash',
];

const SPEC = {
  workerId: 'wabc23',
  username: 'ls-abc23',
  group: 'ls-abc23',
  workingDirectory: '/var/opt/labslot/workers/wabc23/work',
  project: 'labslot.wabc23',
  start: ['/usr/bin/ksh93', '/var/opt/labslot/libexec/labslot-worker-start', '/var/opt/labslot/workers/wabc23'],
};

function only(root: XmlElement, name: string): XmlElement {
  const found = allElements(root).filter((e) => e.name === name);
  assert.equal(found.length, 1, `exactly one <${name}>`);
  return found[0] as XmlElement;
}

/** Attribute values of every element as python's expat (a conforming parser) reads them. */
function expatAttributes(t: TestContext, xml: string): Record<string, string>[] | undefined {
  if (!requires(t, command('python3'))) return undefined;
  const script =
    'import sys,json,xml.parsers.expat as e\nout=[]\np=e.ParserCreate()\np.StartElementHandler=lambda n,a: out.append(dict(a, **{"<name>": n}))\np.Parse(sys.stdin.buffer.read(), True)\nprint(json.dumps(out))';
  const run = spawnSync('python3', ['-c', script], { input: xml, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as Record<string, string>[];
}

describe('illumos worker instance manifest', () => {
  it('runs the start method as the worker with initgroups, its project, and a privilege set without proc_info or proc_chroot', () => {
    const doc = parseXml(workerInstanceManifest(SPEC));
    assert.equal(doc.doctype, '<!DOCTYPE service_bundle SYSTEM "/usr/share/lib/xml/dtd/service_bundle.dtd.1">');
    assert.deepEqual(smfDtdViolations(doc.root), []);
    assert.equal(only(doc.root, 'service').attrs.get('name'), 'application/labslot/worker');
    assert.equal(only(doc.root, 'instance').attrs.get('name'), 'wabc23');
    const credential = only(doc.root, 'method_credential');
    assert.equal(credential.attrs.get('user'), 'ls-abc23');
    assert.equal(credential.attrs.get('group'), 'ls-abc23');
    assert.equal(credential.attrs.get('supp_groups'), ':default', 'initgroups(3C): the slot add_to_groups apply');
    for (const set of ['privileges', 'limit_privileges']) {
      const privs = (credential.attrs.get(set) ?? '').split(',');
      assert.deepEqual(
        privs.filter((p) => !p.startsWith('!')),
        ['basic'],
        `${set} grants basic and nothing else`,
      );
      for (const removed of ['!proc_info', '!proc_session', '!file_link_any'])
        assert.ok(privs.includes(removed), `${set} removes ${removed}`);
      for (const p of privs)
        assert.doesNotMatch(p, /^(all|zone|proc_chroot|proc_setid|proc_taskid|proc_owner|file_dac_\w+|sys_\w+)$/);
    }
    assert.equal(credential.attrs.get('privileges'), JOB_PRIVILEGES);
    const context = only(doc.root, 'method_context');
    assert.equal(context.attrs.get('project'), 'labslot.wabc23');
    assert.equal(context.attrs.get('working_directory'), SPEC.workingDirectory);
    const start = allElements(doc.root).find((e) => e.name === 'exec_method' && e.attrs.get('name') === 'start');
    assert.ok(start);
    assert.equal(start.attrs.get('timeout_seconds'), '0');
    assert.equal(
      start.attrs.get('exec'),
      `'/usr/bin/ksh93' '/var/opt/labslot/libexec/labslot-worker-start' '/var/opt/labslot/workers/wabc23'`,
    );
    const duration = allElements(doc.root).find((e) => e.name === 'propval' && e.attrs.get('name') === 'duration');
    assert.equal(duration?.attrs.get('value'), 'transient');
  });

  it('keeps hostile paths inside their attributes and gives sh back the exact start argv', (t) => {
    const dir = `/srv/lab "x"/><method_credential user="root"/><!-- it's 100% & <evil>\nnext`;
    const spec = {
      ...SPEC,
      workingDirectory: `${dir}/work`,
      start: ['/usr/bin/ksh93', `${dir}/libexec/start`, `${dir}/workers/wabc23`],
    };
    const xml = workerInstanceManifest(spec);
    const doc = parseXml(xml);
    assert.deepEqual(smfDtdViolations(doc.root), []);
    assert.equal(only(doc.root, 'method_credential').attrs.get('user'), 'ls-abc23', 'no second credential');
    assert.equal(only(doc.root, 'method_context').attrs.get('working_directory'), `${dir}/work`);
    const exec =
      allElements(doc.root)
        .find((e) => e.attrs.get('name') === 'start')
        ?.attrs.get('exec') ?? '';
    // What svc.startd does with it: expand %-tokens (%% is %), then /sbin/sh -c "exec ...".
    const expanded = exec.replaceAll('%%', '%');
    assert.doesNotMatch(exec.replaceAll('%%', ''), /%/, 'no % token is left for svc.startd to expand');
    const run = spawnSync('/bin/sh', ['-c', `set -- ${expanded}; printf '%s\\0' "$@"`], { encoding: 'utf8' });
    assert.deepEqual(run.stdout.split('\0').slice(0, -1), spec.start);
    const expat = expatAttributes(t, xml);
    if (expat) assert.equal(expat.find((a) => a['<name>'] === 'method_context')?.['working_directory'], `${dir}/work`);
  });

  it('holds nothing of the job: its environment and token stay out of SMF, which every user can read', () => {
    const xml = workerInstanceManifest(SPEC);
    assert.doesNotMatch(xml, /LABSLOT_TOKEN|lsw_/);
    assert.deepEqual(
      allElements(parseXml(xml).root)
        .filter((e) => e.name === 'envvar')
        .map((e) => e.attrs.get('name')),
      ['LC_ALL'],
    );
  });

  it('accepts only the agent own worker ids in FMRIs and project names', () => {
    assert.equal(workerFmri('wabc23'), 'svc:/application/labslot/worker:wabc23');
    assert.equal(workerProject('wabc23'), 'labslot.wabc23');
    assert.equal(smfLogPath(workerFmri('wabc23')), '/var/svc/log/application-labslot-worker:wabc23.log');
    for (const bad of ['', 'wABC', 'w1;rm', 'x123', 'w1/../x']) assert.throws(() => workerFmri(bad), WorkerIdError);
  });
});

describe('XML escaping', () => {
  it('round-trips every hostile value exactly, through this parser and expat, and never writes ]]>', (t) => {
    const xml = `<r>${NASTY.map((v, i) => `<v i="${i}" value="${xmlAttr(v)}"/>`).join('')}</r>`;
    assert.doesNotMatch(xml, /]]>/);
    const parsed = allElements(parseXml(xml).root).filter((e) => e.name === 'v');
    assert.deepEqual(
      parsed.map((e) => e.attrs.get('value')),
      NASTY,
    );
    const expat = expatAttributes(t, xml);
    if (expat)
      assert.deepEqual(
        expat.filter((a) => a['<name>'] === 'v').map((a) => a['value']),
        NASTY,
      );
  });

  it('refuses what XML 1.0 cannot carry instead of mangling it', () => {
    for (const bad of ['bell\u0007', 'nul\u0000', 'esc\u001b[0m', '\uFFFE', 'lone \uD800'])
      assert.throws(() => xmlAttr(bad, 'the value'), XmlValueError);
  });
});

describe('job launch script', () => {
  it('gives the job exactly its argv and environment under sh, with nothing executed from the values', (t) => {
    const dir = tempDir(t);
    const env = Object.fromEntries(NASTY.map((v, i) => [`V${i}`, v]));
    const script = join(dir, 'launch.sh');
    const report = 'process.stdout.write(JSON.stringify({ argv: process.argv.slice(1), env: process.env }))';
    writeFileSync(script, launchScript(env, [process.execPath, '-e', report, '--', ...NASTY]));
    for (const shell of ['/bin/sh', '/bin/bash'].filter((s) => existsSync(s))) {
      const run = spawnSync(shell, [script], {
        cwd: dir,
        encoding: 'utf8',
        env: { PATH: '/usr/bin:/bin', LEAK: 'from the start method' },
      });
      assert.equal(run.status, 0, run.stderr);
      const seen = JSON.parse(run.stdout) as { argv: string[]; env: Record<string, string> };
      assert.deepEqual(seen.argv, NASTY, shell);
      assert.deepEqual(seen.env, env, `${shell}: env -i, nothing else`);
    }
    assert.equal(existsSync(join(dir, 'CANARY')), false, 'no command substitution ran');
  });

  it('refuses what cannot be an environment or an argument', () => {
    assert.throws(() => launchScript({ 'A=B': 'x' }, ['true']), LaunchError);
    assert.throws(() => launchScript({ A: 'x\0y' }, ['true']), LaunchError);
    assert.throws(() => launchScript({}, []), LaunchError);
  });
});

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

describe('exit status through the instance log', () => {
  const log = (...lines: string[]): string => lines.map((l) => `${l}\n`).join('');

  it('reads the start method records among svc.startd own lines, with illumos signal numbers', () => {
    const text = log(
      '[ Jan  5 12:00:00 Executing start method ("...") ]',
      'labslot-worker: started 4242',
      'labslot-worker: exited code 3',
      '[ Jan  5 12:00:09 Method "start" exited with status 0. ]',
    );
    assert.deepEqual(exitFromRecords(parseWorkerRecords(text)), { code: 3, signal: null });
    assert.deepEqual(
      exitFromRecords(parseWorkerRecords(log('labslot-worker: started 1', 'labslot-worker: exited signal 15'))),
      { code: null, signal: 'SIGTERM' },
    );
    assert.equal(
      exitFromRecords(parseWorkerRecords(log('labslot-worker: started 1', 'labslot-worker: exited signal 16')))?.signal,
      'SIGUSR1',
    );
    assert.equal(
      exitFromRecords(parseWorkerRecords(log('labslot-worker: started 1', 'labslot-worker: exited signal 38')))?.signal,
      'SIGXRES',
    );
    assert.equal(
      exitFromRecords(parseWorkerRecords('labslot-worker: started 1\nlabslot-worker: exited co')),
      undefined,
      'a half-written line waits',
    );
  });

  it('tells a job that never started from one whose status was lost', () => {
    assert.match(
      exitFromRecords(parseWorkerRecords(log('labslot-worker: not started: cannot open /w/output.fifo')))?.spawnError ??
        '',
      /cannot open/,
    );
    assert.equal(exitFromRecords([], undefined), undefined, 'still running');
    assert.match(exitFromRecords([], 'maintenance')?.spawnError ?? '', /maintenance without starting the job/);
    const retried = parseWorkerRecords(
      log('labslot-worker: started 7', 'labslot-worker: not started: the start method ran again'),
    );
    assert.deepEqual(exitFromRecords(retried, 'maintenance'), { code: null, signal: null });
  });

  it('runs the start method for real: job in its own session, without the log descriptor, output through the FIFO, exit 0 whatever the job did', async (t) => {
    if (!requires(t, command('setsid', ['--version']))) return;
    const root = tempDir(t);
    const method = join(root, 'start');
    writeFileSync(method, workerStartMethod());
    const probe =
      'read -r _ _ _ _ _ sid _ < /proc/$$/stat; echo "sid=$sid pid=$$"; if [ -e /proc/$$/fd/3 ]; then echo fd3=open; else echo fd3=closed; fi; echo to-stderr >&2; exit 3';
    writeFileSync(join(root, 'launch.sh'), launchScript({ A: '1' }, ['/bin/sh', '-c', probe]));
    const outputFile = join(root, 'output.log');
    writeFileSync(outputFile, 'earlier output\n');
    const pipe = await OutputPipe.open(join(root, 'output.fifo'), outputFile);
    t.after(() => pipe.close());
    const logFile = join(root, 'instance.log');
    const logFd = openSync(logFile, 'a');
    const child = spawn('/bin/sh', [method, root], { stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
    assert.equal(code, 0, 'the start method exits 0 although the job exited 3');
    pipe.releaseWriter();
    assert.equal(await pipe.drained(5_000), true);
    const records = parseWorkerRecords(readFileSync(logFile, 'utf8'));
    assert.deepEqual(exitFromRecords(records), { code: 3, signal: null });
    const started = records.find((r) => r.kind === 'started');
    const output = readFileSync(outputFile, 'utf8');
    assert.match(output, /^earlier output\n/);
    assert.match(
      output,
      new RegExp(`sid=${started?.kind === 'started' ? started.pid : -1} pid=`),
      'the job leads its own session',
    );
    assert.match(output, /fd3=closed/);
    assert.match(output, /to-stderr/);
  });

  it('reports a start method that cannot open the FIFO, and still exits 0', (t) => {
    const root = tempDir(t);
    const method = join(root, 'start');
    writeFileSync(method, workerStartMethod());
    mkdirSync(join(root, 'output.fifo'));
    const run = spawnSync('/bin/sh', [method, root], { encoding: 'utf8' });
    assert.equal(run.status, 0);
    assert.match(exitFromRecords(parseWorkerRecords(run.stdout))?.spawnError ?? '', /cannot open/);
  });

  it('refuses to start the job twice when svc.startd retries the start method', () => {
    const text = workerStartMethod();
    assert.match(text, /svcprop -q -p restarter\/start_method_waitstatus "\$SMF_FMRI"/);
    assert.match(text, /exit 95/, 'SMF_EXIT_ERR_FATAL: maintenance, no further retry');
    assert.match(text, /\/usr\/bin\/setpgrp/);
    assert.match(text, /3>&- &/);
  });
});

describe('following an instance', () => {
  function fakeProbe(
    steps: { log?: string; state?: cmd.SvcsState | undefined; fail?: boolean }[],
  ): InstanceProbe & { log: string } {
    let step = 0;
    const probe = {
      log: '',
      readLog: (offset: number) => {
        const current = steps[Math.min(step, steps.length - 1)];
        if (current?.log !== undefined) probe.log = current.log;
        return Promise.resolve(Buffer.from(probe.log).subarray(offset));
      },
      state: () => {
        const current = steps[Math.min(step, steps.length - 1)];
        step += 1;
        return current?.fail === true
          ? Promise.reject(new Error('svcs: repository busy'))
          : Promise.resolve(current?.state);
      },
    };
    return probe;
  }
  const options = { logOffset: 0, pollMs: 2, stateEvery: 1, startTimeoutMs: 5_000, maxFailures: 3 };

  it('waits out the enable, reports the start, then the exit', async () => {
    const probe = fakeProbe([
      { state: { state: 'disabled', next: '-' } },
      { state: { state: 'offline', next: 'online' }, log: 'labslot-worker: started 42\nlabslot-worker: exi' },
      { state: { state: 'offline', next: 'online' }, fail: true },
      { state: { state: 'online', next: '-' }, log: 'labslot-worker: started 42\nlabslot-worker: exited code 0\n' },
    ]);
    const watch = watchInstance(probe, options, new AbortController().signal);
    assert.deepEqual(await watch.started, { kind: 'started', pid: 42 });
    assert.deepEqual(await watch.exited, { code: 0, signal: null });
  });

  it('ends a job whose instance went to maintenance without a word, and gives up on a lost instance', async () => {
    const failed = watchInstance(
      fakeProbe([{ state: { state: 'offline', next: 'online' } }, { state: { state: 'maintenance', next: '-' } }]),
      options,
      new AbortController().signal,
    );
    assert.match((await failed.exited).spawnError ?? '', /maintenance/);
    assert.equal((await failed.started).kind, 'ended');
    const lost = watchInstance(fakeProbe([{ fail: true }]), options, new AbortController().signal);
    assert.match((await lost.exited).spawnError ?? '', /repository busy/);
  });

  it('gives up on a start that never comes, so startJob can fail instead of hanging', async () => {
    const controller = new AbortController();
    const watch = watchInstance(
      fakeProbe([{ state: { state: 'offline', next: 'online' } }]),
      { ...options, startTimeoutMs: 20 },
      controller.signal,
    );
    assert.deepEqual(await watch.started, { kind: 'timeout' });
    controller.abort();
    assert.deepEqual(await watch.exited, { code: null, signal: null });
  });

  it('stops following when the worker is released', async () => {
    const controller = new AbortController();
    const watch = watchInstance(
      fakeProbe([{ state: { state: 'offline', next: 'online' }, log: 'labslot-worker: started 5\n' }]),
      options,
      controller.signal,
    );
    await watch.started;
    controller.abort();
    assert.deepEqual(await watch.exited, { code: null, signal: null });
  });
});

describe('smf/ manifests', () => {
  const read = (name: string): string => readFileSync(new URL(`../smf/${name}`, import.meta.url), 'utf8');

  it('are well-formed, declare the SMF DTD and follow its element order', (t) => {
    for (const name of ['labslot.xml', 'labslot-worker.xml']) {
      const doc = parseXml(read(name));
      assert.equal(doc.doctype, '<!DOCTYPE service_bundle SYSTEM "/usr/share/lib/xml/dtd/service_bundle.dtd.1">', name);
      assert.deepEqual(smfDtdViolations(doc.root), [], name);
      const expat = expatAttributes(t, read(name));
      if (expat)
        assert.deepEqual(
          expat.map((a) => a['<name>']),
          allElements(doc.root).map((e) => e.name),
          `${name}: expat reads the same elements`,
        );
    }
  });

  it('run the agent as root with a named privilege set, as a contract service stopped by :kill with room for stop_grace', () => {
    const root = parseXml(read('labslot.xml')).root;
    assert.equal(only(root, 'service').attrs.get('name'), 'application/labslot');
    assert.equal(only(root, 'create_default_instance').attrs.get('enabled'), 'false');
    const deps = allElements(root)
      .filter((e) => e.name === 'dependency')
      .flatMap((d) =>
        allElements(d)
          .filter((e) => e.name === 'service_fmri')
          .map((e) => e.attrs.get('value')),
      );
    for (const fmri of ['svc:/milestone/network:default', 'svc:/system/filesystem/local:default'])
      assert.ok(deps.includes(fmri), fmri);
    const credential = only(root, 'method_credential');
    assert.equal(credential.attrs.get('user'), 'root');
    const privs = (credential.attrs.get('privileges') ?? '').split(',');
    assert.ok(privs.includes('basic') && privs.includes('proc_owner') && privs.includes('file_chown'));
    assert.ok(!privs.includes('all') && !privs.some((p) => p.startsWith('sys_')), 'not all of root');
    const methods = new Map(
      allElements(root)
        .filter((e) => e.name === 'exec_method')
        .map((e) => [e.attrs.get('name'), e.attrs]),
    );
    assert.match(
      methods.get('start')?.get('exec') ?? '',
      /^\/opt\/labslot\/bin\/labslot agent -c %\{config\/file\} --state-dir %\{config\/state_dir\} &$/,
    );
    assert.equal(methods.get('stop')?.get('exec'), ':kill');
    assert.ok(Number(methods.get('stop')?.get('timeout_seconds')) >= 60 + 30, 'longer than the agent stop watchdog');
    const duration = allElements(root).find((e) => e.name === 'propval' && e.attrs.get('name') === 'duration');
    assert.equal(duration?.attrs.get('value'), 'contract');
  });

  it('define the worker service as transient, with no instance of its own', () => {
    const root = parseXml(read('labslot-worker.xml')).root;
    assert.equal(only(root, 'service').attrs.get('name'), 'application/labslot/worker');
    assert.equal(
      allElements(root).filter((e) => e.name === 'instance' || e.name === 'create_default_instance').length,
      0,
    );
    assert.equal(
      allElements(root)
        .find((e) => e.attrs.get('name') === 'duration')
        ?.attrs.get('value'),
      'transient',
    );
    assert.equal(methodExec(['/a b', '50%']), `'/a b' '50%%'`);
  });
});

describe('platform choice', () => {
  it('runs jobs through SMF on illumos and through the Linux sandbox elsewhere', () => {
    assert.equal(currentPlatform('/var/lib/labslot', 'sunos').name, 'illumos');
    assert.equal(currentPlatform('/var/lib/labslot', 'linux').name, 'linux');
  });
});
