import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createFakeBackend } from '../src/backend/fake/index.ts';
import { resolveConfig } from '../src/config.ts';
import { createDaemon } from '../src/daemon.ts';
import { freePort, retryFetch } from './helpers.ts';

describe('a daemon answers while it reconciles after a start', () => {
  it('reads are served and say so in /status; a request that changes something waits for the reconcile', async () => {
    const backend = createFakeBackend();
    // The workspace reconcile's listing (the one that reads images) is held until the test lets it go.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let reconcileAsked!: () => void;
    const asked = new Promise<void>((r) => (reconcileAsked = r));
    const listOwned = backend.listOwned.bind(backend);
    backend.listOwned = async (filter = {}) => {
      if (filter.images !== false) {
        reconcileAsked();
        await gate;
      }
      return listOwned(filter);
    };
    const root = mkdtempSync(path.join(tmpdir(), 'jinad-reconciling-'));
    const port = await freePort();
    const daemon = await createDaemon(resolveConfig({ root, port, auth: false, logLevel: 'silent', instance: `reconciling-${process.pid}`, logs: { port: await freePort() } }), { backend });
    const url = `http://127.0.0.1:${port}`;
    const started = daemon.start();
    try {
      await asked;
      assert.equal((await retryFetch(`${url}/`)).status, 200, 'GET / answers during the reconcile');
      const status = (await (await fetch(`${url}/status`)).json()) as { reconciling: boolean };
      assert.equal(status.reconciling, true);
      const list = await fetch(`${url}/workspaces`);
      assert.equal(list.status, 200, 'lists are read');
      assert.equal(((await list.json()) as { num_add: number }).num_add, 0);

      let answered = false;
      const deleting = fetch(`${url}/workspaces/jworkspace-00000000-0000-4000-8000-000000000000`, { method: 'DELETE' }).then((res) => {
        answered = true;
        return res;
      });
      // Two reads sent after it are answered; the DELETE is still held.
      await fetch(`${url}/status`);
      await fetch(`${url}/workspaces`);
      assert.equal(answered, false, 'a DELETE waits for the reconcile');
      release();
      assert.equal((await deleting).status, 404, 'then it is answered as usual');
      await started;
      const after = (await (await fetch(`${url}/status`)).json()) as { reconciling: boolean; start_ms: Record<string, number> };
      assert.equal(after.reconciling, false);
      const { listening, reconciled } = after.start_ms;
      assert.ok(listening! > 0 && listening! <= reconciled!, `start_ms says it listened before it reconciled: ${JSON.stringify(after.start_ms)}`);
    } finally {
      release();
      await started.catch(() => {});
      await daemon.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
