// DESIGN §8: a job reaches exactly its slot. From a job on slot A, with real
// nftables rules on its worker's uid: pdudaemon, slot B's IPv6 target (TCP and
// ping) and B's console server are refused; the agent's API, A's own target
// (TCP and ping) and a `network_allow` address are reachable. network = "host"
// keeps the host's network as it is.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it, type TestContext } from 'node:test';
import { agentScope } from '../src/platform/agent-scope.js';
import { workerChain } from '../src/platform/linux/nft-policy.js';
import { WORKER_ID_MAX, WORKER_ID_MIN } from '../src/platform/unix-users.js';
import { jobLab, OPERATOR_TOKEN, type JobLab } from './helpers/job-lab.js';
import { chainsOfAgent } from './helpers/nft-chains.js';
import { ipv6Target } from './helpers/netns.js';
import {
  httpProbe,
  loopbackListener,
  pingProbe,
  probeResults,
  probeScript,
  serviceInTarget,
  tcpProbe,
} from './helpers/network-probes.js';
import { startPdudaemon, type Pdudaemon } from './helpers/pdudaemon.js';
import { command, requires, ROOT, type Prerequisite } from './helpers/prerequisites.js';
import { networkConsole, type NetworkConsole } from './helpers/ser2net.js';
import type { Ipv6Target } from './helpers/netns.js';
import { tempDir } from './helpers/temp-dir.js';

const SERVICE_PORT = 7777;
/** What twoSlots() builds the lab from. */
const LAB_PARTS: Prerequisite[] = [
  ROOT,
  command('nft'),
  command('socat', ['-V']),
  command('pdudaemon', ['--help']),
  command('ser2net', ['-v']),
];

/** ping in a job needs ICMP datagram sockets for worker groups: what .ci/run applies from systemd/sysctl.d. */
const PING_GROUPS: Prerequisite = {
  what: `net.ipv4.ping_group_range covering ${WORKER_ID_MIN}-${WORKER_ID_MAX} (sysctl -p systemd/sysctl.d/60-labslot-ping.conf)`,
  met: () => {
    const [low = 1, high = 0] = readFileSync('/proc/sys/net/ipv4/ping_group_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    return low <= WORKER_ID_MIN && high >= WORKER_ID_MAX;
  },
};

interface TwoSlots {
  lab: JobLab;
  a: Ipv6Target;
  b: Ipv6Target;
  pdu: Pdudaemon;
  console: NetworkConsole;
  allowedPort: number;
  otherLocalPort: number;
}

/** Slot a (its target, a pdudaemon outlet) and slot b (its target, a ser2net console), with `jobsToml`. */
async function twoSlots(t: TestContext, jobsToml: (allowedPort: number) => string): Promise<TwoSlots> {
  const dir = tempDir(t);
  const a = ipv6Target(t);
  const b = ipv6Target(t);
  await serviceInTarget(t, a, SERVICE_PORT);
  await serviceInTarget(t, b, SERVICE_PORT);
  const pdu = await startPdudaemon(t, dir);
  const console = await networkConsole(t, dir, () => null);
  const allowedPort = await loopbackListener(t);
  const otherLocalPort = await loopbackListener(t);
  const devices = [
    `[devices.a-ip]\nkind = "ipv6"\naddress = "${a.globalAddress}"`,
    `[devices.a-power]\nkind = "power"\ndriver = "pdudaemon"\nurl = "${pdu.url}"\npdu = "${pdu.pdu}"\nport = 1`,
    `[devices.b-ip]\nkind = "ipv6"\naddress = "${b.globalAddress}"`,
    `[devices.b-netcon]\nkind = "console-server"\nhost = "${console.host}"\nport = ${console.port}`,
  ].join('\n');
  const lab = await jobLab(
    t,
    [
      { name: 'a', target: 'ta', devices: ['a-ip', 'a-power'] },
      { name: 'b', target: 'tb', devices: ['b-ip', 'b-netcon'] },
    ],
    `${devices}\n`,
    `stop_grace = "1s"\n${jobsToml(allowedPort)}`,
  );
  return { lab, a, b, pdu, console, allowedPort, otherLocalPort };
}

/** The probes' results, and the worker the job ran as. */
async function runProbes(
  t: TestContext,
  lab: JobLab,
  target: string,
  script: string,
): Promise<{ results: Map<string, string>; worker: string }> {
  const id = await lab.submit({ target, script });
  const job = await lab.waitDone(id, 60_000);
  const output = await lab.output(id);
  // What the job saw, refusals' own words included, in the test's report.
  t.diagnostic(output);
  assert.equal(job.state, 'succeeded', output);
  assert.match(output, /probes-done/);
  return { results: probeResults(output), worker: job.worker_id ?? '' };
}

describe('network policy (network = "slot")', () => {
  it("keeps a job on slot a to its own target, the agent and network_allow; pdudaemon, b's target and console are refused", async (t) => {
    if (!requires(t, ...LAB_PARTS, command('curl'), PING_GROUPS)) return;
    const { lab, a, b, pdu, console, allowedPort, otherLocalPort } = await twoSlots(
      t,
      (port) => `network_allow = ["127.0.0.1:${port}"]`,
    );
    const { results, worker } = await runProbes(
      t,
      lab,
      'ta',
      probeScript([
        httpProbe('agent', '$LABSLOT_URL/healthz'),
        tcpProbe('own-target-tcp', a.globalAddress, SERVICE_PORT),
        pingProbe('own-target-ping', a.globalAddress),
        tcpProbe('allowed', '127.0.0.1', allowedPort),
        httpProbe('pdudaemon', `${pdu.url}/power/control/off?hostname=${pdu.pdu}&port=2`),
        tcpProbe('other-target-tcp', b.globalAddress, SERVICE_PORT),
        pingProbe('other-target-ping', b.globalAddress),
        tcpProbe('other-console', console.host, console.port),
        tcpProbe('other-local-port', '127.0.0.1', otherLocalPort),
      ]),
    );
    for (const label of ['agent', 'own-target-tcp', 'own-target-ping', 'allowed'])
      assert.equal(results.get(label), 'reachable', `${label}: ${JSON.stringify([...results])}`);
    for (const label of ['pdudaemon', 'other-target-tcp', 'other-target-ping', 'other-console', 'other-local-port'])
      assert.match(results.get(label) ?? 'missing', /^refused/, `${label}: ${JSON.stringify([...results])}`);
    // The refused request never switched an outlet.
    assert.deepEqual(pdu.switched(), []);
    // And the rules went with the worker; the slot's next worker, made ahead, keeps its own until the agent stops.
    assert.ok(!chainsOfAgent(lab.stateDir).includes(workerChain(agentScope(lab.stateDir), worker)));
    await lab.agent.stop();
    assert.deepEqual(chainsOfAgent(lab.stateDir), []);
  });

  it("is per slot: b's job reaches b's target and not a's", async (t) => {
    if (!requires(t, ...LAB_PARTS)) return;
    const { lab, a, b } = await twoSlots(t, () => '');
    const { results } = await runProbes(
      t,
      lab,
      'tb',
      probeScript([
        tcpProbe('own-target-tcp', b.globalAddress, SERVICE_PORT),
        tcpProbe('other-target-tcp', a.globalAddress, SERVICE_PORT),
      ]),
    );
    assert.equal(results.get('own-target-tcp'), 'reachable');
    assert.match(results.get('other-target-tcp') ?? 'missing', /^refused/);
  });
});

describe('network = "host"', () => {
  it("keeps today's behaviour: a job reaches another slot's target and no rule is made", async (t) => {
    if (!requires(t, ...LAB_PARTS)) return;
    const { lab, b, otherLocalPort } = await twoSlots(t, () => 'network = "host"');
    const id = await lab.submit({
      target: 'ta',
      script: `${probeScript([tcpProbe('other-target-tcp', b.globalAddress, SERVICE_PORT), tcpProbe('local-port', '127.0.0.1', otherLocalPort)])}\nsleep 30`,
    });
    await lab.waitOutput(id, /probes-done/);
    const output = await lab.output(id);
    const results = probeResults(output);
    assert.equal(results.get('other-target-tcp'), 'reachable', output);
    assert.equal(results.get('local-port'), 'reachable', output);
    assert.deepEqual(chainsOfAgent(lab.stateDir), [], 'no chain for a running job');
    await lab.post(`/v1/jobs/${id}/cancel`, {}, OPERATOR_TOKEN);
    await lab.waitDone(id);
  });
});
