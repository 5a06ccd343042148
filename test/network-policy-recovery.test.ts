// A worker's nftables rules across a crash and on hosts that cannot have any:
// kill -9 of the agent while a job runs leaves its chain and that of the slot's
// next worker, made ahead, and the restarted agent removes both (and only
// them: another agent's chain in the shared table stays); an agent asked for
// network = "slot" on a host without nft starts but runs no job (its host is
// unhealthy and says what to do), while network = "host" starts as before.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { agentScope } from '../src/platform/agent-scope.js';
import { NFT_TABLE, workerChain } from '../src/platform/linux/nft-policy.js';
import { startAgent } from './helpers/agent-process.js';
import type { SlotListView } from './helpers/api-types.js';
import { lifo } from './helpers/cleanup.js';
import { eventually } from './helpers/eventually.js';
import { jobLab } from './helpers/job-lab.js';
import { chainRules, chainsOfAgent, labslotChains } from './helpers/nft-chains.js';
import { command, requires, ROOT } from './helpers/prerequisites.js';
import { tempDir } from './helpers/temp-dir.js';

describe('network policy across a crash', () => {
  it("removes a killed agent's worker chain at restart and leaves another agent's chain alone", async (t) => {
    if (!requires(t, ROOT, command('nft'), command('socat', ['-V']))) return;
    const lab = await jobLab(t, [{ name: 's1', target: 'tb' }]);
    // Another agent on this host (another state directory, so another scope) with a worker of its own.
    const other = workerChain(agentScope(join(tempDir(t), 'other-agent')), 'wothers1worker');
    execFileSync('nft', ['add', 'table', 'inet', NFT_TABLE]);
    execFileSync('nft', ['add', 'chain', 'inet', NFT_TABLE, other]);
    execFileSync('nft', ['add', 'rule', 'inet', NFT_TABLE, other, 'meta', 'skuid', '4242', 'drop']);
    lifo(t).after(() => execFileSync('nft', ['delete', 'chain', 'inet', NFT_TABLE, other]));

    const id = await lab.submit({ target: 'tb', script: 'echo "uid=$(id -u)"\nsleep 1000' });
    const [, uid = ''] = await lab.waitOutput(id, /uid=(\d+)/);
    const chain = workerChain(agentScope(lab.stateDir), (await lab.job(id)).worker_id ?? '');
    assert.ok(chainsOfAgent(lab.stateDir).includes(chain), 'the running job has a chain');
    assert.match(chainRules(chain), new RegExp(`meta skuid ${uid} `), 'its rules match the worker uid');
    // The slot's next worker, made while the job runs ([jobs] prepare_ahead), has one of its own: the crash must leave both.
    await eventually(() => chainsOfAgent(lab.stateDir).length === 2, { message: 'the chain of the worker made ahead' });
    const chains = chainsOfAgent(lab.stateDir);

    await lab.agent.stop('SIGKILL');
    assert.deepEqual(chainsOfAgent(lab.stateDir), chains, 'the crash left the chains');

    await lab.restart();
    await eventually(() => chainsOfAgent(lab.stateDir).length === 0, {
      timeoutMs: 15_000,
      message: () => `the restarted agent to remove ${chains.join(', ')}: ${labslotChains().join(', ')}`,
    });
    assert.equal((await lab.job(id)).end_reason, 'agent restarted');
    assert.ok(labslotChains().includes(other), "the other agent's chain is still there");
    assert.match(chainRules(other), /meta skuid 4242 drop/, 'with its rule');
  });
});

describe('a host without nftables', () => {
  /** A PATH with every program of the host's but nft (the agent looks nft up on its PATH, as any command). */
  function pathWithoutNft(dir: string): string {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    // python3 runs the sandbox's Landlock launcher, whose probe the agent makes at start; `true` is the slot's check.
    for (const tool of ['setpriv', 'env', 'node', 'python3', 'true'])
      symlinkSync(execFileSync('which', [tool], { encoding: 'utf8' }).trim(), join(bin, tool));
    return bin;
  }

  function config(dir: string, network: string): string {
    const file = join(dir, `${network}.toml`);
    writeFileSync(
      file,
      `[jobs]\nnetwork = "${network}"\n[devices.c]\nkind = "command"\nargv = ["true"]\n[slots.s]\ntarget = "t"\ndevices = ["c"]\n`,
    );
    return file;
  }

  it('runs no job with network = "slot": its host is unhealthy, saying to install nftables or set network = "host"', async (t) => {
    if (!requires(t, ROOT)) return;
    const dir = tempDir(t);
    const agent = await startAgent(t, {
      config: config(dir, 'slot'),
      stateDir: join(dir, 'state'),
      wrapper: ['env', `PATH=${pathWithoutNft(dir)}`],
    });
    const refusal = agent.logs.find((l) => l['msg'] === 'no job will run on this host');
    assert.ok(refusal !== undefined, 'the agent says at start that it runs no job');
    assert.match(String(refusal['problem']), /\[jobs\] network = "slot" needs nftables/);
    const slots = await eventually(
      async () => {
        const response = await fetch(`${agent.url}/v1/slots`, { signal: AbortSignal.timeout(10_000) });
        const body = (await response.json()) as SlotListView;
        // Once its device is checked (healthy: `true`), only the host keeps the slot from jobs.
        const s = body.slots.find((slot) => slot.name === 's');
        return body.host.ok === false && s?.unavailable?.kind !== 'unknown-health' ? body : false;
      },
      { message: 'the host and device checks' },
    );
    assert.match(slots.host.reason, /Install nftables/);
    assert.match(slots.host.reason, /set \[jobs\] network = "host"/);
    const slot = slots.slots.find((s) => s.name === 's');
    assert.equal(slot?.available, false);
    assert.equal(slot.unavailable?.kind, 'host');
    assert.equal(await agent.stop(), 0);
  });

  it('starts with network = "host" as before', async (t) => {
    if (!requires(t, ROOT)) return;
    const dir = tempDir(t);
    const agent = await startAgent(t, {
      config: config(dir, 'host'),
      stateDir: join(dir, 'state'),
      wrapper: ['env', `PATH=${pathWithoutNft(dir)}`],
    });
    const health = await fetch(`${agent.url}/healthz`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(health.status, 200);
    assert.equal(await agent.stop(), 0);
  });
});
