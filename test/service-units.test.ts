// The service units as files: smf/*.xml well-formed by xmllint, with the
// agent's configuration file and state directory as SMF properties that reach
// the start method; systemd/labslot.service as `systemd-analyze verify` reads
// it, and the unit's settings the agent relies on. The hardened agent run as
// the unit runs it is in service-units-hardened.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LABSLOT_BIN } from './helpers/cli.js';
import { command, requires } from './helpers/prerequisites.js';
import { last, list, readUnit, unknownServiceKeys } from './helpers/systemd-unit.js';
import { tempDir } from './helpers/temp-dir.js';
import { allElements, parseXml } from './helpers/xml-parse.js';

const root = new URL('..', import.meta.url);
const smfDir = new URL('smf/', root);
const unitUrl = new URL('systemd/labslot.service', root);
const readText = (url: URL): string => readFileSync(url, 'utf8');

describe('smf/ manifests', () => {
  it('are well-formed for xmllint', (t) => {
    if (!requires(t, command('xmllint', ['--version']))) return;
    const manifests = readdirSync(smfDir).filter((f) => f.endsWith('.xml'));
    assert.ok(manifests.length >= 2, `found ${manifests.join(', ')}`);
    for (const name of manifests) {
      // The DOCTYPE names illumos' DTD, which Linux does not have; --noout does not load it.
      const run = spawnSync('xmllint', ['--noout', new URL(name, smfDir).pathname], {
        encoding: 'utf8',
        timeout: 10_000,
      });
      assert.equal(run.status, 0, `${name}: ${run.stderr}`);
      assert.equal(run.stderr, '', name);
    }
  });

  const agent = parseXml(readText(new URL('labslot.xml', smfDir))).root;
  const propval = (name: string): string | undefined => {
    const group = allElements(agent).find((e) => e.name === 'property_group' && e.attrs.get('name') === 'config');
    return (
      group &&
      allElements(group)
        .find((e) => e.name === 'propval' && e.attrs.get('name') === name)
        ?.attrs.get('value')
    );
  };
  const startExec =
    allElements(agent)
      .find((e) => e.name === 'exec_method' && e.attrs.get('name') === 'start')
      ?.attrs.get('exec') ?? '';

  it('keep the configuration file and state directory in the config property group, with the documented defaults', () => {
    const group = allElements(agent).find((e) => e.name === 'property_group' && e.attrs.get('name') === 'config');
    assert.ok(group, 'a config property group');
    assert.equal(group.attrs.get('type'), 'application');
    const types = new Map(
      allElements(group)
        .filter((e) => e.name === 'propval')
        .map((e) => [e.attrs.get('name'), e.attrs.get('type')]),
    );
    assert.deepEqual(Object.fromEntries(types), { file: 'astring', state_dir: 'astring' });
    assert.equal(propval('file'), '/etc/opt/labslot/slots.toml');
    assert.equal(propval('state_dir'), '/var/opt/labslot');
    const readme = readText(new URL('README.md', smfDir));
    for (const [name, value] of [
      ['file', '/etc/opt/labslot/slots.toml'],
      ['state_dir', '/var/opt/labslot'],
    ] as const) {
      assert.ok(
        readme.includes(`config/${name}`) && readme.includes(value),
        `smf/README.md documents config/${name} = ${value}`,
      );
      assert.match(
        readme,
        new RegExp(`svccfg -s labslot setprop config/${name} = astring:`),
        `smf/README.md shows how to change config/${name}`,
      );
    }
    assert.match(readme, /svcadm refresh labslot/);
  });

  it('pass both properties to the agent through method tokens, one argument each even with shell metacharacters', () => {
    assert.equal(startExec, '/opt/labslot/bin/labslot agent -c %{config/file} --state-dir %{config/state_dir} &');
    // svc.startd's expand.c: the value with the Bourne shell's metacharacters escaped by '\', then the
    // whole exec string goes to /bin/sh -c. Here sh prints the argv it would start.
    const quoteForShell = (value: string): string => value.replace(/[;&()|^<>\n \t\\"'`]/g, (c) => `\\${c}`);
    const values: Record<string, string> = {
      'config/file': "/etc/opt/lab slot/it's (a) test;.toml",
      'config/state_dir': '/var/opt/lab<1>|&"x"',
    };
    const expanded = startExec
      .replace(/%\{([^}]+)\}/g, (_, name: string) => quoteForShell(values[name] ?? 'MISSING'))
      .replace(/ &$/, '');
    const run = spawnSync('sh', ['-c', `printf '%s\\n' ${expanded}`], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.stdout.split('\n').slice(0, -1), [
      '/opt/labslot/bin/labslot',
      'agent',
      '-c',
      values['config/file'],
      '--state-dir',
      values['config/state_dir'],
    ]);
  });
});

describe('systemd/labslot.service', () => {
  const unit = readUnit(unitUrl);
  const service = unit.get('Service');

  it('passes systemd-analyze verify with no warning', (t) => {
    if (!requires(t, command('systemd-analyze', ['--version']))) return;
    const dir = tempDir(t);
    // verify insists that ExecStart's program exists: the bin that `npm install -g` would link to.
    const text = readText(unitUrl);
    assert.ok(text.includes('ExecStart=/usr/local/bin/labslot '));
    const copy = join(dir, 'labslot.service');
    writeFileSync(copy, text.replace('ExecStart=/usr/local/bin/labslot ', `ExecStart=${LABSLOT_BIN} `));
    const run = spawnSync('systemd-analyze', ['verify', '--man=no', '--generators=no', copy], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    // Unknown keys and unparsable values are only warnings on stderr (exit 0): any output fails.
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr.trim(), '', 'systemd-analyze verify printed warnings');
  });

  it('names only capabilities this libcap knows (verify ignores an unknown one without a word)', (t) => {
    if (!requires(t, command('capsh', ['--print']))) return;
    const caps = list(service, 'CapabilityBoundingSet');
    assert.ok(caps.length > 5);
    for (const cap of caps) assert.equal(spawnSync('capsh', [`--supports=${cap.toLowerCase()}`]).status, 0, cap);
  });

  it('starts the npm-installed agent, lets it stop its jobs itself within its watchdog, and keeps what it needs', () => {
    assert.equal(last(service, 'Type'), 'simple');
    assert.match(
      last(service, 'ExecStart') ?? '',
      /^\/usr\/local\/bin\/labslot agent -c \/etc\/labslot\/slots\.toml --state-dir \$\{STATE_DIRECTORY\}$/,
    );
    assert.equal(last(service, 'StateDirectory'), 'labslot');
    assert.equal(last(service, 'Restart'), 'on-failure');
    assert.equal(last(service, 'RestartPreventExitStatus'), '2', 'a configuration error is not retried');
    assert.equal(last(service, 'KillMode'), 'mixed');
    assert.ok(
      Number.parseInt(last(service, 'TimeoutStopSec') ?? '0', 10) >= 60 + 30,
      'longer than the agent stop watchdog for the default stop_grace',
    );
    for (const key of [
      'NoNewPrivileges',
      'PrivateDevices',
      'ProtectControlGroups',
      'PrivateUsers',
      'DynamicUser',
      'User',
      'MemoryDenyWriteExecute',
    ]) {
      assert.equal(service?.get(key), undefined, `${key} would break the agent (see the unit's comments)`);
    }
    assert.ok(list(service, 'ReadWritePaths').includes('/etc'), 'useradd rewrites /etc/passwd');
    assert.ok(service);
    assert.deepEqual(
      unknownServiceKeys(service),
      [],
      'every [Service] key is emulated, traced or lifecycle-only (helpers/systemd-unit.ts)',
    );
  });
});
