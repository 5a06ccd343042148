// The parts of the network policy that are plain functions: `[jobs]
// network_allow` parsing, the rules a lab gives each slot (from the kinds'
// endpoints), whether a worker made ahead still carries its slot's, the nft
// script they become, and the ping_group_range check.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../src/config/config-error.js';
import { parseNetworkAddress } from '../src/config/network-address.js';
import { loadLabConfig } from '../src/devices/load-lab-config.js';
import { agentPort, networkPolicyFor, samePolicy } from '../src/jobs/network-policy.js';
import { policyStillHolds } from '../src/jobs/worker-space.js';
import { NO_CLOCK } from '../src/jobs/lease-clock.js';
import type { Platform } from '../src/platform/platform.js';
import { createLogger } from '../src/log.js';
import { NetworkPolicyError } from '../src/platform/network-policy.js';
import { policyScript, workerChain, workerOfChain } from '../src/platform/linux/nft-policy.js';
import { pingRangeWarning, pingWarning } from '../src/platform/linux/ping-group.js';
import { tempDir } from './helpers/temp-dir.js';

const LAB = `
[devices.a-ip]
kind = "ipv6"
address = "2001:db8:a::2"
[devices.a-power]
kind = "power"
driver = "pdudaemon"
url = "http://127.0.0.1:16421"
pdu = "rack"
port = 1
[devices.b-ip]
kind = "ipv6"
address = "fe80::2"
interface = "veth-b"
[devices.b-con]
kind = "console-server"
host = "console.lab"
port = 7001
[slots.a]
target = "t"
devices = ["a-ip", "a-power"]
[slots.b]
target = "t"
devices = ["b-ip", "b-con"]
`;

describe('[jobs] network_allow entries', () => {
  it('takes addresses and blocks, with a port for TCP and UDP', () => {
    assert.deepEqual(parseNetworkAddress('192.0.2.10'), { address: '192.0.2.10', port: undefined });
    assert.deepEqual(parseNetworkAddress('10.0.0.0/8:53'), { address: '10.0.0.0', prefix: 8, port: 53 });
    assert.deepEqual(parseNetworkAddress('[2001:db8::/64]:443'), { address: '2001:db8::', prefix: 64, port: 443 });
    assert.deepEqual(parseNetworkAddress('2001:db8::1'), { address: '2001:db8::1', port: undefined });
  });

  it('refuses names, unbracketed IPv6 ports and impossible prefixes or ports, naming the entry', () => {
    for (const bad of ['artifacts.lab', '2001:db8::1:443x', '10.0.0.0/33', '[2001:db8::1]:0', '10.0.0.1:70000'])
      assert.match(
        JSON.stringify(parseNetworkAddress(bad)),
        new RegExp(`"error":".*${bad.replace(/[[\]/.]/g, '\\$&')}`),
      );
  });

  it('is a config error naming the key', (t) => {
    const file = join(tempDir(t), 'slots.toml');
    writeFileSync(file, `[jobs]\nnetwork_allow = ["192.0.2.1", "artifacts.lab"]\n${LAB}`);
    assert.throws(
      () => loadLabConfig(file),
      (error: unknown) => error instanceof ConfigError && error.issues.some((i) => i.path === 'jobs.network_allow[1]'),
    );
  });
});

describe("a slot's policy", () => {
  it("allows its own targets, denies the other slot's and every power controller, opens only the agent's port", async (t) => {
    const file = join(tempDir(t), 'slots.toml');
    writeFileSync(file, `[jobs]\nnetwork_allow = ["192.0.2.0/24:8080"]\n${LAB}`);
    const lab = loadLabConfig(file);
    const slot = lab.slots.get('a');
    assert.ok(slot);
    const policy = await networkPolicyFor(lab, slot, 8421, createLogger(new PassThrough()), (host) =>
      Promise.resolve(host === 'console.lab' ? ['192.0.2.77'] : []),
    );
    assert.deepEqual(policy.allow, [{ address: '2001:db8:a::2', port: undefined, interface: undefined }]);
    assert.deepEqual(policy.shared, [{ address: '192.0.2.0', prefix: 24, port: 8080 }]);
    assert.deepEqual(policy.deny, [
      { address: '127.0.0.1', port: 16421, interface: undefined },
      { address: '192.0.2.77', port: 7001, interface: undefined },
      { address: 'fe80::2', port: undefined, interface: 'veth-b' },
    ]);
    assert.deepEqual(policy.localPorts, [8421]);
  });
});

describe('a device name that does not resolve', () => {
  it("fails the worker's policy closed when jobs must be kept from it, and only warns for the slot's own", async (t) => {
    const file = join(tempDir(t), 'slots.toml');
    writeFileSync(file, LAB);
    const lab = loadLabConfig(file);
    const [a, b] = [lab.slots.get('a'), lab.slots.get('b')];
    assert.ok(a && b);
    const log = createLogger(new PassThrough());
    const unresolved = (): Promise<string[]> => Promise.reject(new Error('SERVFAIL'));
    // Slot a must be kept from b's console server: no address, no job.
    await assert.rejects(
      networkPolicyFor(lab, a, 8421, log, unresolved),
      (error: unknown) =>
        error instanceof NetworkPolicyError && /b-con: its host console\.lab did not resolve/.test(error.message),
    );
    // Slot b's own console: nothing to open, nothing to refuse.
    const own = await networkPolicyFor(lab, b, 8421, log, unresolved);
    assert.deepEqual(own.allow, [{ address: 'fe80::2', port: undefined, interface: 'veth-b' }]);
  });
});

describe('a worker made ahead of its job', () => {
  it('keeps its policy while the names resolve as they did; not once one points elsewhere', async (t) => {
    const file = join(tempDir(t), 'slots.toml');
    writeFileSync(file, LAB);
    const lab = loadLabConfig(file);
    const slot = lab.slots.get('a');
    assert.ok(slot);
    const log = createLogger(new PassThrough());
    let consoleAt = ['192.0.2.77', '192.0.2.78'];
    const resolve = (): Promise<string[]> => Promise.resolve(consoleAt);
    const made = { policy: await networkPolicyFor(lab, slot, 8421, log, resolve) };
    const deps = { lab, log, platform: {} as Platform, agentUrl: () => 'http://127.0.0.1:8421' };
    consoleAt = ['192.0.2.78', '192.0.2.77'];
    assert.equal(await policyStillHolds(deps, slot, made, NO_CLOCK, resolve), true, 'the same addresses, reordered');
    consoleAt = ['192.0.2.99'];
    assert.equal(await policyStillHolds(deps, slot, made, NO_CLOCK, resolve), false, "b's console moved");
    const otherPort = { lab, log, platform: {} as Platform, agentUrl: () => 'http://127.0.0.1:9999' };
    consoleAt = ['192.0.2.77', '192.0.2.78'];
    assert.equal(await policyStillHolds(otherPort, slot, made, NO_CLOCK, resolve), false, "the agent's port changed");
    assert.equal(await policyStillHolds(deps, slot, {}, NO_CLOCK, resolve), true, 'network = "host": no policy');
    assert.equal(samePolicy(made.policy, made.policy), true);
  });
});

describe("the agent's port a job may reach", () => {
  it("is its URL's port, or the scheme's", () => {
    assert.equal(agentPort('http://127.0.0.1:8421'), 8421);
    assert.equal(agentPort('http://[::1]'), 80);
    assert.equal(agentPort('https://lab-1.example'), 443);
  });
});

describe('the nft script of a worker', () => {
  const worker = { workerId: 'wabc', username: 'ls-abc', uid: 1_048_577, gid: 1_048_577 };
  const chain = workerChain('a0123456789ab', 'wabc');

  it("matches the worker's uid in every rule of a chain of its own: own, deny, network_allow, loopback closed last", () => {
    const script = policyScript(chain, worker, {
      allow: [{ address: '2001:db8::2' }],
      deny: [
        { address: 'fe80::2', interface: 'veth-b' },
        { address: '127.0.0.1', port: 16421 },
      ],
      // A resolver on loopback and a block holding the host's own address: neither may reopen pdudaemon.
      shared: [{ address: '127.0.0.53' }, { address: '10.0.0.0', prefix: 24 }],
      localPorts: [8421],
    });
    const rules = script.split('\n').filter((line) => line.startsWith('add rule'));
    assert.ok(
      rules.every((r) => r.startsWith(`add rule inet labslot ${chain} meta skuid 1048577 `)),
      script,
    );
    assert.deepEqual(
      rules.map((r) => r.slice(`add rule inet labslot ${chain} meta skuid 1048577 `.length)),
      [
        'ip6 daddr 2001:db8::2 accept',
        'oifname "lo" tcp dport 8421 accept',
        'oifname "veth-b" ip6 daddr fe80::2 meta l4proto tcp reject with tcp reset',
        'oifname "veth-b" ip6 daddr fe80::2 drop',
        'ip daddr 127.0.0.1 meta l4proto { tcp, udp } th dport 16421 meta l4proto tcp reject with tcp reset',
        'ip daddr 127.0.0.1 meta l4proto { tcp, udp } th dport 16421 drop',
        'oifname "lo" meta l4proto { tcp, udp } th dport 16421 meta l4proto tcp reject with tcp reset',
        'oifname "lo" meta l4proto { tcp, udp } th dport 16421 drop',
        'ip daddr 127.0.0.53 accept',
        'ip daddr 10.0.0.0/24 accept',
        'oifname "lo" meta l4proto tcp reject with tcp reset',
        'oifname "lo" drop',
      ],
    );
    assert.match(script, /hook output priority 0; policy accept;/);
  });

  it('refuses anything that is not a literal before nft sees it', () => {
    for (const rule of [{ address: 'evil; flush ruleset' }, { address: '::1', interface: 'x" drop; #' }])
      assert.throws(
        () => policyScript(chain, worker, { allow: [rule], deny: [], shared: [], localPorts: [] }),
        NetworkPolicyError,
      );
  });

  it("names chains by agent scope, so an agent's sweep finds only its own", () => {
    assert.equal(workerOfChain('a0123456789ab', chain), 'wabc');
    assert.equal(workerOfChain('a999999999999', chain), undefined);
  });
});

describe('ping_group_range', () => {
  it('is fine when it covers the worker groups, and says what to do when not', () => {
    assert.equal(pingRangeWarning('1048576\t1073741823\n'), undefined);
    assert.equal(pingRangeWarning('0\t2147483647\n'), undefined);
    const warning = pingRangeWarning('1\t0\n') ?? '';
    assert.match(warning, /net\.ipv4\.ping_group_range is "1 0"/);
    assert.match(warning, /sysctl -p \/etc\/sysctl\.d\/60-labslot-ping\.conf/);
  });

  it('reads the kernel file, and says so when it cannot', (t) => {
    const file = join(tempDir(t), 'ping_group_range');
    writeFileSync(file, '1048576\t1073741823\n');
    assert.equal(pingWarning(file), undefined);
    writeFileSync(file, '100\t2000\n');
    assert.match(pingWarning(file) ?? '', /is "100 2000", not covering the worker groups 1048576-1073741823/);
    assert.match(pingWarning(join(file, 'missing')) ?? '', /cannot be read/);
  });
});
