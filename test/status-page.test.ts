// The status page in a real browser (Debian's Chromium through playwright-core)
// against a real agent: what an operator sees, and hold/release from the page.
// JavaScript is off in every context: the page must work without it.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { HealthTimeline } from '../src/http/pages/health-timeline.js';
import { startAgent } from './helpers/agent-process.js';
import type { Response } from 'playwright-core';
import { CHROMIUM, launchChromium } from './helpers/browser.js';
import { jobLab, OPERATOR_TOKEN, SUBMITTER_TOKEN } from './helpers/job-lab.js';
import { ROOT, requires } from './helpers/prerequisites.js';
import { tempDir } from './helpers/temp-dir.js';

test('a timeline counts its checks in words: "1 check", "2 checks"', async () => {
  const now = Date.now();
  const result = { ok: true, reason: 'present', detail: null, durationMs: 3, at: now - 60_000, trigger: 'interval' };
  const title = async (results: (typeof result)[]): Promise<string | undefined> =>
    // A JSX node, which renders itself to HTML through toString.
    /<title>([^<]*)<\/title>/.exec(
      ((await HealthTimeline({ device: 'sp', results, now, timeoutMs: 1_000 })) as { toString(): string }).toString(),
    )?.[1];
  assert.equal(await title([result]), 'sp: 1 check in the last 24 h, 0 failed');
  assert.equal(await title([result, { ...result, at: now - 30_000 }]), 'sp: 2 checks in the last 24 h, 0 failed');
});

test('the status page shows every slot at a glance, and hold and release work from it', async (t) => {
  if (!requires(t, ROOT, CHROMIUM)) return;
  const flag = join(tempDir(t), 'link-up');
  writeFileSync(flag, '');
  const lab = await jobLab(
    t,
    [
      { name: 's1', target: 'tb' },
      { name: 's2', target: 'tb' },
      { name: 's3', target: 'solo', devices: ['s3-link'] },
    ],
    `[devices.s3-link]\nkind = "command"\nargv = ["test", "-e", "${flag}"]\n`,
  );
  const done = await lab.waitDone(await lab.submit({ target: 'tb', argv: ['echo', 'hello'] }));
  assert.equal(done.exit_code, 0);
  const ranOn = done.slot ?? '';
  const other = ranOn === 's1' ? 's2' : 's1';

  const held = await lab.post(
    `/v1/slots/${other}/hold`,
    { reason: 'probe fell off the hub (LAB-7)', by: 'bob' },
    OPERATOR_TOKEN,
  );
  assert.equal(held.status, 200);
  rmSync(flag);
  for (let i = 0; i < 3; i++) assert.equal((await lab.post('/v1/slots/s3/check', {}, OPERATOR_TOKEN)).status, 200);
  assert.equal((await lab.slot('s3')).health, 'unhealthy');
  const queued = await lab.submit({ target: 'solo', argv: ['true'] });

  const browser = await launchChromium(t);
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);

  await t.test('the overview marks held and unhealthy slots and shows queues', async () => {
    const response = await page.goto(`${lab.agent.url}/`);
    assert.equal(response?.status(), 200);
    assert.equal(await page.locator('meta[http-equiv="refresh"]').getAttribute('content'), '10; url=/');
    // Standards mode, and no framing: a hostile page must not overlay the forms.
    assert.match(await response.text(), /^<!DOCTYPE html>/);
    assert.equal(response.headers()['x-frame-options'], 'DENY');
    assert.match(response.headers()['content-security-policy'] ?? '', /frame-ancestors 'none'/);

    const heldRow = page.locator(`tr[data-slot="${other}"]`);
    assert.match((await heldRow.getAttribute('class')) ?? '', /\bheld\b/);
    const heldText = await heldRow.innerText();
    assert.match(heldText, /probe fell off the hub \(LAB-7\)/);
    assert.match(heldText, /by operator bob/);

    const sickRow = page.locator('tr[data-slot="s3"]');
    assert.match((await sickRow.getAttribute('class')) ?? '', /\bunhealthy\b/);
    const reason = await lab.slot('s3');
    const linkReason = reason.devices.find((d) => d.name === 's3-link')?.last_check?.reason ?? 'missing';
    assert.ok(
      (await sickRow.innerText()).includes(linkReason),
      `the unhealthy device's reason (${linkReason}) is on the page`,
    );

    const fine = page.locator(`tr[data-slot="${ranOn}"]`);
    assert.equal(await fine.getAttribute('class'), '');
    assert.match(await fine.innerText(), /healthy/);

    assert.match(
      await page.locator('tr[data-target="solo"]').innerText(),
      /solo\s+1\s+0\s+0\s+1\s+(just now|\d+(\.\d)?s ago)/,
    );
    assert.match(await page.locator('.summary').innerText(), /1\s*held.*1\s*unhealthy/s);
  });

  await t.test('a slot page shows its health timeline, jobs and events', async () => {
    await page.goto(`${lab.agent.url}/`);
    await page.click(`tr[data-slot="${ranOn}"] a`);
    assert.equal(new URL(page.url()).pathname, `/slots/${ranOn}`);
    const timeline = page.locator(`svg.timeline[data-device="${ranOn}-con"]`);
    assert.ok(
      Number(await timeline.getAttribute('data-checks')) >= 2,
      'the interval check and the pre-lease check are drawn',
    );
    assert.equal((await timeline.locator('rect.passed').count()) >= 1, true);
    assert.match(await page.locator('#jobs').innerText(), new RegExp(`${done.id}\\s+succeeded\\s+exit 0`));
    assert.match(await page.locator('#events').innerText(), /slot\.leased/);

    await page.goto(`${lab.agent.url}/slots/s3`);
    const sick = page.locator('svg.timeline[data-device="s3-link"]');
    assert.equal(await sick.getAttribute('data-failures'), '3');
    assert.ok((await sick.locator('rect.failed').count()) >= 1);
  });

  await t.test('holding needs an operator token, keeps what was typed on refusal, and works with one', async () => {
    await page.goto(`${lab.agent.url}/slots/${ranOn}`);
    await page.click('#hold a');
    assert.equal(new URL(page.url()).pathname, `/slots/${ranOn}/hold`);
    assert.equal(
      await page.locator('meta[http-equiv="refresh"]').count(),
      0,
      'a form page does not reload under the typing hand',
    );
    await page.fill('textarea[name="text"]', 'RoT probe flaky, reseating');
    await page.fill('input[name="by"]', 'alice');
    await page.fill('input[name="token"]', SUBMITTER_TOKEN);
    const posted = (): Promise<Response> =>
      page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/slots/${ranOn}/hold`));
    const [refused] = await Promise.all([posted(), page.click('button[type="submit"]')]);
    assert.equal(refused.status(), 403);
    assert.match(await page.locator('[role="alert"]').innerText(), /operator token/);
    assert.equal(await page.inputValue('textarea[name="text"]'), 'RoT probe flaky, reseating');
    assert.equal((await lab.slot(ranOn)).hold, null);

    await page.fill('input[name="token"]', 'not-a-token');
    const [invalid] = await Promise.all([posted(), page.click('button[type="submit"]')]);
    assert.equal(invalid.status(), 401);

    await page.fill('input[name="token"]', OPERATOR_TOKEN);
    await Promise.all([page.waitForURL(`**/slots/${ranOn}?done=held`), page.click('button[type="submit"]')]);
    assert.match(await page.locator('[role="status"]').innerText(), /held/);
    // The next reload shows the slot as it is then, not this one-off notice.
    assert.equal(await page.locator('meta[http-equiv="refresh"]').getAttribute('content'), `10; url=/slots/${ranOn}`);
    assert.match(await page.locator('#hold').innerText(), /RoT probe flaky, reseating/);
    const hold = (await lab.slot(ranOn)).hold as { reason: string; source: string; by: string } | null;
    assert.ok(hold !== null);
    assert.equal(hold.reason, 'RoT probe flaky, reseating');
    assert.equal(hold.source, 'operator');
    assert.match(hold.by, /^alice \(operator:[0-9a-f]{8}\)$/);

    await page.goto(`${lab.agent.url}/`);
    assert.match((await page.locator(`tr[data-slot="${ranOn}"]`).getAttribute('class')) ?? '', /\bheld\b/);
  });

  await t.test('releasing from the page clears the hold and checks the slot again', async () => {
    await page.goto(`${lab.agent.url}/slots/${ranOn}`);
    await page.click('#hold a');
    assert.equal(new URL(page.url()).pathname, `/slots/${ranOn}/release`);
    await page.fill('textarea[name="text"]', 'reseated, looks fine');
    await page.fill('input[name="token"]', OPERATOR_TOKEN);
    await Promise.all([page.waitForURL(`**/slots/${ranOn}?done=released`), page.click('button[type="submit"]')]);
    assert.match(await page.locator('#hold').innerText(), /not held/);
    assert.equal((await lab.slot(ranOn)).hold, null);
    const released = (await lab.events(`&slot=${ranOn}`)).filter((e) => e.type === 'slot.released');
    assert.equal(released.length, 1);
    assert.match(released[0]?.message ?? '', /reseated, looks fine/);
    const view = await lab.slot(ranOn);
    assert.equal(view.devices[0]?.history[0]?.trigger, 'release', 'the release ran a fresh check');
  });

  await t.test('a form sent from another site, or a malformed one, changes nothing', async () => {
    const form = new URLSearchParams({ text: 'from elsewhere', by: '', token: OPERATOR_TOKEN });
    const crossSite = await fetch(`${lab.agent.url}/slots/${ranOn}/hold`, {
      method: 'POST',
      body: form,
      headers: { 'sec-fetch-site': 'cross-site' },
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(crossSite.status, 403);
    const foreignOrigin = await fetch(`${lab.agent.url}/slots/${ranOn}/hold`, {
      method: 'POST',
      body: form,
      headers: { origin: 'http://evil.example' },
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(foreignOrigin.status, 403);
    const multipart = new FormData();
    multipart.append('text', new Blob(['x']), 'file.txt');
    multipart.append('token', OPERATOR_TOKEN);
    const withFile = await fetch(`${lab.agent.url}/slots/${ranOn}/hold`, {
      method: 'POST',
      body: multipart,
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(withFile.status, 400);
    assert.equal((await lab.slot(ranOn)).hold, null);
  });

  await t.test('a request that names another host (DNS rebinding) is refused on a loopback agent', async () => {
    const rebound = await rawGet(lab.agent.port, '/v1/slots', 'evil.example:8421');
    assert.equal(rebound.status, 403);
    assert.match(rebound.body, /"code":"bad_host"/);
    assert.equal((await rawGet(lab.agent.port, '/', `localhost:${lab.agent.port}`)).status, 200);
  });

  await t.test('an unknown slot is a 404 page, and a queued job is still waiting for the unhealthy slot', async () => {
    const response = await page.goto(`${lab.agent.url}/slots/nope`);
    assert.equal(response?.status(), 404);
    assert.match(await page.locator('[role="alert"]').innerText(), /No slot named "nope"/);
    assert.equal((await lab.job(queued)).state, 'queued');
  });
});

test('beyond loopback the page asks the browser for a token', async (t) => {
  if (!requires(t, ROOT, CHROMIUM)) return;
  const dir = tempDir(t);
  const lab = await jobLab(t, [{ name: 'n1', target: 'tb' }]);
  // A second agent on the same config, listening on every address: reads need a token there.
  const agent = await startAgent(t, { config: lab.config, stateDir: join(dir, 'state'), listen: '0.0.0.0:0' });

  for (const path of ['/', '/metrics', '/v1/slots']) {
    const head = await fetch(`${agent.url}${path}`, { method: 'HEAD', signal: AbortSignal.timeout(10_000) });
    assert.equal(head.status, 401, `HEAD ${path} is a read too`);
  }
  const anonymous = await fetch(`${agent.url}/`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic realm="labslot"/);
  assert.match(await anonymous.text(), /reading needs a token/);

  const browser = await launchChromium(t);
  const context = await browser.newContext({
    javaScriptEnabled: false,
    httpCredentials: { username: 'anyone', password: SUBMITTER_TOKEN },
  });
  const page = await context.newPage();
  const response = await page.goto(`${agent.url}/`, { timeout: 15_000 });
  assert.equal(response?.status(), 200);
  assert.match(await page.locator('tr[data-slot="n1"]').innerText(), /n1/);

  const wrong = await browser.newContext({
    javaScriptEnabled: false,
    httpCredentials: { username: 'anyone', password: 'guess' },
  });
  const refused = await (await wrong.newPage()).goto(`${agent.url}/slots/n1`, { timeout: 15_000 });
  assert.equal(refused?.status(), 401);
});

/** A GET with a Host header of our choosing (fetch will not send one it did not derive from the URL). */
function rawGet(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, path, headers: { host }, timeout: 10_000 }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('timeout', () => request.destroy(new Error('no answer within 10 s')));
    request.on('error', reject);
    request.end();
  });
}
