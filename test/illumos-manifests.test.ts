// The illumos platform cannot run here (no SMF, no projects, no ksh93), so
// these tests check the XML it generates: the worker instance manifest and the
// smf/ manifests (well-formed, in the SMF DTD's order, with the right
// credentials and privileges), and the escaping that keeps a job's values out
// of XML syntax. Its command lines and parsers are in illumos-commands.test.ts,
// the job's launch and exit status in illumos-job-launch.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it, type TestContext } from 'node:test';
import {
  JOB_PRIVILEGES,
  methodExec,
  smfLogPath,
  WorkerIdError,
  workerFmri,
  workerInstanceManifest,
  workerProject,
} from '../src/platform/illumos/manifest.js';
import { xmlAttr, XmlValueError } from '../src/platform/illumos/xml.js';
import { command, requires } from './helpers/prerequisites.js';
import { smfDtdViolations } from './helpers/smf-dtd.js';
import { allElements, parseXml, type XmlElement } from './helpers/xml-parse.js';
import { NASTY } from './helpers/illumos-values.js';

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
