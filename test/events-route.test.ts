// GET /v1/events as a client tailing the audit log uses it: after_id is where
// it left off, so the answer is the next events after it, in order, and paging
// with the last id seen walks the whole log without a gap.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startAgent } from './helpers/agent-process.js';
import type { EventListView } from './helpers/api-types.js';
import { PROJECT_ROOT } from './helpers/cli.js';
import { tempDir } from './helpers/temp-dir.js';

const OPERATOR = 'demo-operator-token';

describe('GET /v1/events', () => {
  it('reads forward from after_id, and paging by the last id seen misses nothing', async (t) => {
    const agent = await startAgent(t, { config: join(PROJECT_ROOT, 'slots.example.toml'), stateDir: tempDir(t) });
    const read = async (query: string): Promise<EventListView['events']> =>
      (
        (await (
          await fetch(`${agent.url}/v1/events${query}`, { signal: AbortSignal.timeout(10_000) })
        ).json()) as EventListView
      ).events;
    const headers = { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' };
    for (let i = 0; i < 15; i += 1) {
      const hold = await fetch(`${agent.url}/v1/slots/gimlet-1/hold`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ reason: `hold ${i}` }),
      });
      assert.equal(hold.status, 200, await hold.text());
      const release = await fetch(`${agent.url}/v1/slots/gimlet-1/release`, { method: 'POST', headers, body: '{}' });
      assert.equal(release.status, 200, await release.text());
    }
    const all = await read('?limit=1000');
    assert.ok(all.length >= 30, `${all.length} events`);
    const ids = all.map((e) => e.id);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
      'oldest first',
    );

    const first = ids[0] ?? 0;
    const next = await read(`?after_id=${first}&limit=5`);
    assert.deepEqual(
      next.map((e) => e.id),
      ids.slice(1, 6),
      'the five events right after after_id, in order',
    );

    const paged: number[] = [];
    for (let last = 0; ;) {
      const page = await read(`?after_id=${last}&limit=7`);
      if (page.length === 0) break;
      paged.push(...page.map((e) => e.id));
      last = page.at(-1)?.id ?? last;
    }
    assert.deepEqual(
      paged.filter((id) => id <= (ids.at(-1) ?? 0)),
      ids,
      'paging by after_id walks the whole log',
    );

    // The agent keeps writing (health checks): compare with the whole log read right after.
    const newest = (await read('?limit=3')).map((e) => e.id);
    const now = (await read('?limit=1000')).map((e) => e.id);
    const at = now.indexOf(newest[0] ?? -1);
    assert.deepEqual(newest, now.slice(at, at + 3), 'without a starting point: three consecutive events, oldest first');
    assert.ok((newest.at(-1) ?? 0) >= (ids.at(-1) ?? 0), 'and the newest of them');
  });
});
