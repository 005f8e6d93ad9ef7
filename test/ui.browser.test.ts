/**
 * The dashboard (/ui) in a real browser (Debian's Chromium, headless), against a daemon on the
 * fake backend: a wrong token is refused with the daemon's words; sign in; upload files and see
 * the build reach ACTIVE live; start a Flow; see its log lines appear live; scale it (a new log
 * line, live); delete it. Every request stays on the daemon. Screenshots of each step go to
 * test/.screenshots (git-ignored); UPDATE_SCREENSHOTS=1 also copies three to docs/.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, startFakeDaemon, type TestDaemon } from './helpers.ts';

const SHOTS = fileURLToPath(new URL('./.screenshots/', import.meta.url));
const DOCS = fileURLToPath(new URL('../docs/', import.meta.url));
const files = mkdtempSync(path.join(tmpdir(), 'jinad-ui-'));
let d: TestDaemon;
let browser: Browser;
before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  writeFileSync(path.join(files, 'flow.yml'), 'jtype: Flow\nexecutors:\n  - name: greeter\n    uses: Greeter\n    py_modules: [executor.ts]\n');
  writeFileSync(path.join(files, 'executor.ts'), 'export class Greeter {}\n');
  d = await startFakeDaemon({ config: { auth: true } });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await d?.cleanup();
  rmSync(files, { recursive: true, force: true });
});

async function shot(page: Page, name: string, toDocs = false) {
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (toDocs && process.env.UPDATE_SCREENSHOTS) copyFileSync(file, path.join(DOCS, `ui-${name}.png`));
}

describe('the dashboard', () => {
  it('signs in, builds a workspace live, starts a Flow, follows its log, scales and deletes it', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const elsewhere: string[] = [];
    page.on('request', (r) => !r.url().startsWith(d.url) && elsewhere.push(r.url()));
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(`${d.url}/ui`);

    await page.getByLabel('API token').fill('jinad_0000000000000000_not-a-real-token-at-all-00000000000000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'not valid' }).waitFor();
    await shot(page, 'refused');

    await page.getByLabel('API token').fill(d.adminToken!);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Workspaces' }).waitFor();
    assert.equal(await page.getByRole('alert').isHidden(), true);

    await page.setInputFiles('#pick-files', [path.join(files, 'flow.yml'), path.join(files, 'executor.ts')]);
    const wsRow = page.locator('#workspaces tbody tr').filter({ hasText: 'ACTIVE' });
    await wsRow.waitFor({ timeout: 15_000 }); // pushed by the live view, not reloaded
    await page.locator('#log').filter({ hasText: 'workspace is ACTIVE' }).waitFor(); // its build log, live
    await shot(page, 'workspace', true);

    await page.getByLabel('Envs (KEY=VALUE, one per line)').fill('GREETING=hi');
    await page.getByRole('button', { name: 'Start Flow' }).click();
    const flowRow = page.locator('#objects tbody tr').filter({ hasText: 'running' });
    await flowRow.waitFor({ timeout: 15_000 });
    await page.locator('#log').filter({ hasText: 'flow started' }).waitFor();
    const flowId = (await flowRow.getAttribute('data-id'))!;
    assert.match(flowId, /^jflow-/);

    await flowRow.getByLabel('Replicas').fill('3');
    await flowRow.getByRole('button', { name: 'Scale' }).click();
    await page.locator('#log').filter({ hasText: 'flow updated' }).waitFor(); // a new line, live
    await shot(page, 'flow', true);

    // A failing action shows the daemon's words.
    await flowRow.getByLabel('Replicas').fill('0');
    await flowRow.getByRole('button', { name: 'Scale' }).click();
    await page.getByRole('alert').filter({ hasText: 'replicas' }).waitFor();

    await flowRow.getByRole('button', { name: `Delete ${flowId}` }).click();
    await page.locator('#objects tbody').filter({ hasText: 'Nothing runs yet.' }).waitFor();
    await page.setViewportSize({ width: 390, height: 844 }); // a phone
    await shot(page, 'phone', true);
    assert.deepEqual(elsewhere, [], 'every request stays on the daemon');
  });

  it("shows the daemon's own deployments with their members, drift and plan", async () => {
    const withDeployment = await startFakeDaemon({ config: { auth: true, deploymentsBase: files, deployments: { demo: { workspace: '.', flows: { web: { file: 'flow.yml' } } } } } });
    try {
      const page = await browser.newPage();
      await page.goto(`${withDeployment.url}/ui`);
      await page.getByLabel('API token').fill(withDeployment.adminToken!);
      await page.getByRole('button', { name: 'Sign in' }).click();
      const row = page.locator('#deployments tbody tr').filter({ hasText: 'demo' });
      await row.filter({ hasText: 'flows.web: running' }).filter({ hasText: 'up to date' }).waitFor({ timeout: 15_000 });
      assert.match((await row.textContent()) ?? '', /none/, 'no drift');
      await shot(page, 'deployments', true);
    } finally {
      await withDeployment.cleanup();
    }
  });

  it('serves its page and assets without a token, and its live view only with one', async () => {
    assert.equal((await fetch(`${d.url}/ui`)).status, 200);
    assert.match((await fetch(`${d.url}/ui/assets/app.js`)).headers.get('content-type') ?? '', /javascript/);
    assert.equal((await fetch(`${d.url}/ui/assets/secrets.txt`)).status, 404);
    assert.equal((await fetch(`${d.url}/ui/events`)).status, 401);
    const res = await fetch(`${d.url}/ui/events`, { headers: { authorization: `Bearer ${d.adminToken}` } });
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const first = await res.body!.getReader().read();
    assert.match(new TextDecoder().decode(first.value), /^event: snapshot\ndata: \{"workspaces":/);
    await res.body!.cancel().catch(() => {});
  });
});
