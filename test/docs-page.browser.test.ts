/**
 * /docs in a real browser (Debian's Chromium, headless): the interactive API docs render every
 * route, and every request the page makes goes to the daemon itself — it works offline.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium, startFakeDaemon, type TestDaemon } from './helpers.ts';

let d: TestDaemon;
let browser: Browser;
before(async () => {
  d = await startFakeDaemon({ config: { auth: true } }); // the page needs the API, not an engine
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await d?.cleanup();
});

describe('/docs', () => {
  it('renders every route with no request leaving the daemon', async () => {
    const page = await browser.newPage();
    const requested: string[] = [];
    page.on('request', (r) => requested.push(r.url()));
    await page.goto(`${d.url}/docs`);
    // It asks for a token first; a wrong one is refused with the daemon's words.
    await page.getByLabel('API token').fill('not-a-token');
    await page.getByRole('button', { name: 'Open the API docs' }).click();
    await page.waitForFunction(() => document.getElementById('signin-error')?.textContent?.includes('not valid'));
    await page.getByLabel('API token').fill(d.adminToken!);
    await page.getByRole('button', { name: 'Open the API docs' }).click();
    await page.waitForSelector('.opblock', { timeout: 20_000 });
    assert.match((await page.textContent('.info .title')) ?? '', /JinaD \(Daemon\)/);
    const paths = await page.$$eval('.opblock-summary-path', (els) => els.map((e) => e.getAttribute('data-path') ?? e.textContent ?? ''));
    for (const p of ['/workspaces', '/workspaces/{id}', '/flows', '/flows/scale/{id}', '/pods/rolling_update/{id}', '/peas', '/logs/{id}', '/status']) {
      assert.ok(paths.some((x) => x.replace(/\u200b/g, '') === p), `${p} is listed (got ${paths.length} routes)`);
    }
    const outside = requested.filter((u) => !u.startsWith(d.url) && !u.startsWith('data:'));
    assert.deepEqual(outside, [], 'no request leaves the daemon');
    // Try one operation from the page, as a person would.
    await page.click('.opblock-summary-path[data-path="/status"]');
    await page.click('.opblock.is-open .try-out__btn');
    await page.click('.opblock.is-open .execute');
    await page.waitForSelector('.opblock.is-open .responses-table .response-col_status', { timeout: 10_000 });
    assert.match((await page.textContent('.opblock.is-open .live-responses-table')) ?? '', /200/);
    await page.screenshot({ path: `${d.root}/docs.png`, fullPage: false });
    if (process.env.KEEP_SCREENSHOT) await page.screenshot({ path: process.env.KEEP_SCREENSHOT });
  });
});
