// Exit-code scenarios that need no agent: usage errors, configuration
// commands, and client commands pointed at a URL where nothing listens.
import { join } from 'node:path';
import { freePort } from '../free-port.js';
import { cli, type Scenario, type Scenarios } from './table.js';

export interface OfflineContext {
  dir: string;
  /** An HTTPS server whose certificate a CA made for the test signed, not one Node trusts. */
  https: { url: string };
  good: string;
  unhealthy: string;
  bad: string;
}

export const OFFLINE_SCENARIOS: Scenarios<OfflineContext> = new Map<string, Scenario<OfflineContext>>([
  ['labslot --version — always', { run: async () => [await cli(['--version'])] }],
  [
    'labslot job run --help — the help of any command',
    {
      run: async () => [
        await cli(['job', 'run', '--help']),
        await cli(['--help']),
        await cli(['slot', 'hold', '--help']),
      ],
    },
  ],
  ['labslot nope — an unknown command', { run: async () => [await cli(['nope']), await cli(['job', 'nope'])] }],
  [
    'labslot slots --jsn — an unknown option, with a suggestion',
    { run: async () => [await cli(['slots', '--jsn']), await cli(['job', 'list', '--tagret', 'x'])] },
  ],
  [
    'labslot job status — a missing argument or required option',
    {
      run: async () => [
        await cli(['job', 'status']),
        await cli(['job', 'run', '--', 'true']),
        await cli(['slot', 'hold', 'gimlet-1']),
      ],
    },
  ],
  [
    "labslot slots — nothing listens at the agent's URL (the same for every client command)",
    {
      run: async () => {
        const env = { LABSLOT_URL: `http://127.0.0.1:${await freePort()}`, LABSLOT_TOKEN: 'x' };
        const commands = [
          ['slots'],
          ['slot', 'hold', 's1', '-m', 'x'],
          ['slot', 'release', 's1'],
          ['job', 'status', 'j1'],
          ['job', 'list'],
          ['job', 'cancel', 'j1'],
          ['job', 'outputs', 'j1', '-o', '/nonexistent/out'],
          ['power', 'on', 's1'],
        ];
        return [
          ...(await Promise.all(commands.map((args) => cli(args, env)))),
          await cli(['worker', 'mark-broken', '-m', 'x'], { ...env, LABSLOT_WORKER: 'w1' }),
        ];
      },
    },
  ],
  [
    "labslot slots --url https://HOST:PORT — the agent's certificate is not signed by a CA the client trusts (no `--cacert` or `$LABSLOT_CACERT` for it)",
    {
      run: async (c) => [
        await cli(['slots', '--url', c.https.url]),
        await cli(['job', 'logs', 'j1'], { LABSLOT_URL: c.https.url, LABSLOT_TOKEN: 'x' }),
      ],
    },
  ],
  [
    'labslot slots --cacert FILE — `--cacert` or `$LABSLOT_CACERT` is not a readable PEM certificate',
    {
      // Read before anything is sent: the URL's server is never asked.
      run: async (c) => [
        await cli(['slots', '--url', c.https.url, '--cacert', join(c.dir, 'missing.pem')]),
        await cli(['job', 'list'], { LABSLOT_URL: c.https.url, LABSLOT_CACERT: c.good }),
      ],
    },
  ],
  [
    'labslot slots --url nope — `--url` or `$LABSLOT_URL` is not a URL',
    {
      run: async () => [await cli(['slots', '--url', 'nope']), await cli(['job', 'list'], { LABSLOT_URL: 'nope' })],
    },
  ],
  [
    'labslot slots — no `--url`, no `$LABSLOT_URL`, and no config file to take `agent.listen` from',
    {
      run: async () => [await cli(['slots']), await cli(['job', 'list', '-c', '/nonexistent/slots.toml'])],
    },
  ],
  [
    'labslot job run --target TARGET --env NOEQUALS -- true — a bad argument (`--env`, `--timeout`, `--priority`, `--input`, `--archive`): nothing is sent',
    {
      run: async () => {
        // Nothing listens at this URL: a command that got as far as the network would exit 1.
        const env = { LABSLOT_URL: `http://127.0.0.1:${await freePort()}`, LABSLOT_TOKEN: 'x' };
        const bad = [
          ['--env', 'NOEQUALS'],
          ['--timeout', '10 min'],
          ['--priority', 'high'],
          ['--input', '/nonexistent/dir'],
          ['--archive', 'sp=x.zip'],
        ];
        return Promise.all(
          bad.map((options) => cli(['job', 'run', '--target', 'gimlet', ...options, '--', 'true'], env)),
        );
      },
    },
  ],
  [
    'labslot job list --state nope — not a job state',
    {
      run: async () => [
        await cli(['job', 'list', '--state', 'nope'], { LABSLOT_URL: `http://127.0.0.1:${await freePort()}` }),
      ],
    },
  ],
  [
    'labslot worker mark-broken -m MESSAGE — outside a job: `LABSLOT_WORKER` and friends are not set',
    {
      run: async () => [
        await cli(['worker', 'mark-broken', '-m', 'x']),
        await cli(['worker', 'mark-broken', '-m', 'x'], { LABSLOT_URL: 'http://127.0.0.1:8421', LABSLOT_TOKEN: 'x' }),
      ],
    },
  ],
  [
    'labslot worker power on — outside a job: `LABSLOT_WORKER` and friends are not set',
    {
      run: async () => [
        await cli(['worker', 'power', 'on']),
        await cli(['worker', 'power', 'cycle', 'x-power'], {
          LABSLOT_URL: 'http://127.0.0.1:8421',
          LABSLOT_TOKEN: 'x',
        }),
      ],
    },
  ],
  [
    'labslot power toggle SLOT — not `on`, `off` or `cycle`',
    {
      run: async () => [
        await cli(['power', 'toggle', 's1'], { LABSLOT_URL: `http://127.0.0.1:${await freePort()}` }),
        await cli(['worker', 'power', 'reboot'], { LABSLOT_URL: 'http://127.0.0.1:1', LABSLOT_WORKER: 'w1' }),
      ],
    },
  ],
  [
    'labslot config validate -c FILE — the config is valid',
    {
      run: async (c) => [
        await cli(['config', 'validate', '-c', c.good]),
        await cli(['config', 'validate', '-c', c.good, '--json']),
      ],
    },
  ],
  [
    'labslot config validate -c FILE — the config has problems, or the file cannot be read',
    {
      run: async (c) => [
        await cli(['config', 'validate', '-c', c.bad]),
        await cli(['config', 'validate', '-c', join(c.dir, 'missing.toml')]),
      ],
    },
  ],
  ['labslot check -c FILE — every device is healthy', { run: async (c) => [await cli(['check', '-c', c.good])] }],
  [
    'labslot check -c FILE — a device is unhealthy',
    {
      run: async (c) => [await cli(['check', '-c', c.unhealthy]), await cli(['check', '-c', c.unhealthy, '--json'])],
    },
  ],
  [
    'labslot check -c FILE --slot nope — no slot of that name',
    { run: async (c) => [await cli(['check', '-c', c.good, '--slot', 'nope'])] },
  ],
  [
    'labslot udev-rules -c FILE — the rules are printed',
    { run: async (c) => [await cli(['udev-rules', '-c', c.good])] },
  ],
  [
    'labslot udev-rules -c FILE — the config has problems',
    { run: async (c) => [await cli(['udev-rules', '-c', c.bad])] },
  ],
  [
    'labslot discover — always, also with nothing plugged in or no config at `/etc/labslot/slots.toml`',
    {
      run: async (c) => {
        // No $LABSLOT_CONFIG (NOT_IN_A_JOB points it at a missing file, which would be a config named and not there).
        const none = { LABSLOT_CONFIG: '' };
        return [
          await cli(['discover'], none),
          await cli(['discover', '--json'], none),
          await cli(['discover', '--toml'], none),
          await cli(['discover', '-c', c.good]),
        ];
      },
    },
  ],
  [
    'labslot discover -c FILE — the config has problems, or the file `-c` or `$LABSLOT_CONFIG` names cannot be read',
    {
      run: async (c) => [
        await cli(['discover', '-c', c.bad]),
        await cli(['discover', '--toml', '-c', join(c.dir, 'missing.toml')]),
        await cli(['discover'], { LABSLOT_CONFIG: c.bad }),
      ],
    },
  ],
  ['labslot demo --listen nope — a bad `--listen`', { run: async () => [await cli(['demo', '--listen', 'nope'])] }],
]);
