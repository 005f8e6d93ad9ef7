/**
 * The Dockerfile: build the daemon's own image (no registry), run it as documented with the
 * Docker socket and a root mounted from another host path, and check it builds a workspace
 * whose `run` container sees the uploaded files (the daemon found its root's host path itself).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LABEL } from '../src/docker/labels.ts';
import { docker, filesForm, freePort, removeLabelled, retryFetch, waitForState } from './helpers.ts';

const instance = `test-image-${process.pid}`;
const tag = `jinad:${instance}`;
const hostRoot = mkdtempSync(path.join(tmpdir(), 'jinad-hostroot-'));
const name = `jinad-daemon-${instance}`;

after(async () => {
  await docker.removeContainer(name);
  await removeLabelled(instance);
  await docker.removeImage(tag);
  rmSync(hostRoot, { recursive: true, force: true });
});

describe('the daemon image', () => {
  it('builds from the Dockerfile and runs a workspace with the socket mounted', { timeout: 600_000 }, async () => {
    const repo = fileURLToPath(new URL('..', import.meta.url));
    execFileSync(process.execPath, ['--import', 'tsx', 'src/image.ts'], { cwd: repo, env: { ...process.env, JINAD_IMAGE_TAG: tag }, stdio: ['ignore', 'pipe', 'pipe'] });
    const apiPort = await freePort();
    const appPort = await freePort();
    await docker.runContainer({
      name,
      image: tag,
      env: { JINAD_INSTANCE: instance },
      binds: ['/var/run/docker.sock:/var/run/docker.sock', `${hostRoot}:/tmp/jinad`],
      ports: [{ container: 8000, host: apiPort }],
      publishHost: '127.0.0.1',
      labels: { [LABEL.instance]: instance, [LABEL.kind]: 'test-daemon' },
    });
    const url = `http://127.0.0.1:${apiPort}`;
    assert.deepEqual(await (await retryFetch(`${url}/`, 30_000)).json(), {});

    const serve = `require('node:http').createServer((q, s) => s.end(require('node:fs').readFileSync('/workspace/msg.txt'))).listen(${appPort})`;
    const res = await fetch(`${url}/workspaces`, { method: 'POST', body: filesForm({ 'msg.txt': 'from the upload', 'app.cjs': serve, '.jinad': `run = node app.cjs\nports = ${appPort}\n` }) });
    assert.equal(res.status, 201);
    const id = Object.keys((await res.json()) as object)[0]!;
    const item = await waitForState(url, id, ['ACTIVE', 'FAILED']);
    assert.equal(item.state, 'ACTIVE', item.reason);
    assert.equal(await (await retryFetch(`http://127.0.0.1:${appPort}/`)).text(), 'from the upload');
    const binds = execFileSync('docker', ['inspect', '-f', '{{json .HostConfig.Binds}}', id]).toString();
    assert.ok(binds.includes(`${hostRoot}/${id}:/workspace`), binds);
  });
});
