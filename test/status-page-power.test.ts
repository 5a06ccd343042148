// The slot page's power form in a real browser (Chromium, JavaScript off)
// against a real agent: an operator switches one outlet or all of them, the
// switch is an event, and a submitter token, a form from another site and a
// failing outlet are refused on the form without switching anything else.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CHROMIUM, launchChromium } from './helpers/browser.js';
import { jobLab, OPERATOR_TOKEN, SUBMITTER_TOKEN } from './helpers/job-lab.js';
import { ROOT, requires } from './helpers/prerequisites.js';
import { tempDir } from './helpers/temp-dir.js';

/** A `command` outlet that appends "NAME on|off" to `log`; `off` fails when `stuck`. */
function outlet(name: string, log: string, stuck = false): string {
  const write = (state: string): string => JSON.stringify(['sh', '-c', `echo ${name} ${state} >> ${log}`]);
  const off = stuck ? JSON.stringify(['sh', '-c', 'echo relay stuck >&2; exit 1']) : write('off');
  return `[devices.${name}]\nkind = "power"\ndriver = "command"\non = ${write('on')}\noff = ${off}\nstatus = ["true"]\n`;
}

test("the slot page switches a slot's outlets for an operator and refuses anybody else", async (t) => {
  if (!requires(t, ROOT, CHROMIUM)) return;
  const log = join(tempDir(t), 'outlets.log');
  writeFileSync(log, '');
  const switched = (): string[] => readFileSync(log, 'utf8').split('\n').filter(Boolean);
  const lab = await jobLab(
    t,
    [
      { name: 'p1', target: 'tb', devices: ['p1-power', 'p1-aux-power'] },
      { name: 'p2', target: 'tb', devices: ['p2-power'] },
    ],
    outlet('p1-power', log) + outlet('p1-aux-power', log) + outlet('p2-power', log, true),
  );
  const browser = await launchChromium(t);
  const page = await (await browser.newContext({ javaScriptEnabled: false })).newPage();

  await page.goto(`${lab.agent.url}/slots/p1`);
  assert.match(await page.locator('#power').innerText(), /p1-power, p1-aux-power/);
  await page.click('#power a');
  assert.equal(new URL(page.url()).pathname, '/slots/p1/power');
  await page.selectOption('select[name="power"]', 'off');
  await page.selectOption('select[name="device"]', 'p1-aux-power');
  await page.fill('input[name="by"]', 'alice');
  await page.fill('input[name="token"]', OPERATOR_TOKEN);
  await Promise.all([page.waitForURL('**/slots/p1?done=power-off'), page.click('button[type="submit"]')]);
  assert.match(await page.locator('[role="status"]').innerText(), /Power off was sent/);
  assert.deepEqual(switched(), ['p1-aux-power off']);
  const [event] = (await lab.events('&slot=p1')).filter((e) => e.type === 'slot.power');
  assert.match(event?.message ?? '', /^power off of p1-aux-power in p1 by alice \(operator:[0-9a-f]{8}\)$/);

  // All outlets of the slot, the form's default.
  await page.goto(`${lab.agent.url}/slots/p1/power`);
  await page.selectOption('select[name="power"]', 'on');
  await page.fill('input[name="token"]', OPERATOR_TOKEN);
  await Promise.all([page.waitForURL('**/slots/p1?done=power-on'), page.click('button[type="submit"]')]);
  assert.deepEqual(switched().slice(1).sort(), ['p1-aux-power on', 'p1-power on']);

  await page.goto(`${lab.agent.url}/slots/p1/power`);
  await page.fill('input[name="token"]', SUBMITTER_TOKEN);
  const submitter = await Promise.all([
    page.waitForResponse(/\/slots\/p1\/power$/),
    page.click('button[type="submit"]'),
  ]);
  assert.equal(submitter[0].status(), 403);
  assert.match(await page.locator('[role="alert"]').innerText(), /switching power needs an operator token/);

  const crossSite = await fetch(`${lab.agent.url}/slots/p1/power`, {
    method: 'POST',
    body: new URLSearchParams({ power: 'off', device: '', by: '', token: OPERATOR_TOKEN }),
    headers: { 'sec-fetch-site': 'cross-site' },
    signal: AbortSignal.timeout(10_000),
  });
  assert.equal(crossSite.status, 403);

  // An outlet whose driver fails: the form says which and why, with the API's 502.
  await page.goto(`${lab.agent.url}/slots/p2/power`);
  await page.selectOption('select[name="power"]', 'off');
  await page.fill('input[name="token"]', OPERATOR_TOKEN);
  const failed = await Promise.all([page.waitForResponse(/\/slots\/p2\/power$/), page.click('button[type="submit"]')]);
  assert.equal(failed[0].status(), 502);
  assert.match(await page.locator('[role="alert"]').innerText(), /p2-power: power off command .* relay stuck/);
  assert.equal(switched().length, 3, switched().join(','));
});
