/** What a person sees when the Docker Engine is not there: a clear message, never a crash or a 500. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { filesForm, startDaemon, waitForState } from './helpers.ts';

const NO_ENGINE = '/nonexistent/docker.sock';

describe('Docker Engine unreachable', () => {
  it('`npm start` exits 1 saying how to start the engine', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'jinad-down-'));
    const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', main, '--docker', NO_ENGINE, '--port', '0', '--root', root], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /cannot reach the Docker Engine at \/nonexistent\/docker\.sock/);
    assert.match(r.stderr, /dockerd|systemctl start docker/);
  });

  it('requests that need the engine get 503; builds fail with the same reason', async () => {
    const d = await startDaemon({ config: { docker: NO_ENGINE } });
    try {
      const status = (await (await fetch(`${d.url}/status`)).json()) as any;
      assert.match(status.docker.error, /not reachable/);
      const res = await fetch(`${d.url}/workspaces`, { method: 'POST', body: filesForm({ 'a.txt': 'a' }) });
      assert.equal(res.status, 201);
      const id = Object.keys((await res.json()) as object)[0]!;
      const item = await waitForState(d.url, id, ['FAILED'], 10_000);
      assert.match(item.reason, /Docker Engine is not reachable/);
      const del = await fetch(`${d.url}/workspaces/${id}?everything=true`, { method: 'DELETE' });
      assert.equal(del.status, 503);
      assert.match(((await del.json()) as any).detail, /DOCKER_HOST/);
    } finally {
      await d.stop();
    }
  });
});
