/**
 * The Dockerfile: build the daemon's own image (no registry), run it as documented with the
 * Docker socket and a root mounted from another host path, and check it builds a workspace
 * whose `run` container sees the uploaded files (the daemon found its root's host path itself),
 * then starts a Flow that answers on the host and whose log reaches the daemon.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LABEL } from './docker.ts';
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
    // As the Dockerfile says to run it: the Docker socket and the root mounted (the engine reaches
    // the log receiver's socket in the root; host.docker.internal is added to every container).
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
    // Listening on every address in its container, it made an admin token in the mounted root.
    assert.equal((await fetch(`${url}/workspaces`)).status, 401);
    const token = readFileSync(`${hostRoot}/admin.token`, 'utf8').trim();
    const headers = { authorization: `Bearer ${token}` };

    const serve = `require('node:http').createServer((q, s) => s.end(require('node:fs').readFileSync('/workspace/msg.txt'))).listen(${appPort})`;
    const res = await fetch(`${url}/workspaces`, { method: 'POST', headers, body: filesForm({ 'msg.txt': 'from the upload', 'app.cjs': serve, '.jinad': `run = node app.cjs\nports = ${appPort}\n` }) });
    assert.equal(res.status, 201);
    const id = Object.keys((await res.json()) as object)[0]!;
    const item = await waitForState(url, id, ['ACTIVE', 'FAILED'], 120_000, token);
    assert.equal(item.state, 'ACTIVE', item.reason);
    assert.equal(await (await retryFetch(`http://127.0.0.1:${appPort}/`)).text(), 'from the upload');
    const binds = execFileSync('docker', ['inspect', '-f', '{{json .HostConfig.Binds}}', id]).toString();
    assert.ok(binds.includes(`${hostRoot}/${id}:/workspace`), binds);

    // A Flow through the daemon in its container: started, answering on the host, logging.
    const flowFiles = filesForm({
      'executors.ts': readFileSync(fileURLToPath(new URL('./fixtures/runtime/executors.ts', import.meta.url))),
      'talkers.ts': readFileSync(fileURLToPath(new URL('./fixtures/runtime/talkers.ts', import.meta.url))),
      'talk.yml': readFileSync(fileURLToPath(new URL('./fixtures/runtime/talk.yml', import.meta.url))),
    });
    assert.equal((await fetch(`${url}/workspaces/${id}`, { method: 'PUT', headers, body: flowFiles })).status, 200);
    assert.equal((await waitForState(url, id, ['ACTIVE', 'FAILED'], 120_000, token)).state, 'ACTIVE');
    const created = await fetch(`${url}/flows?workspace_id=${id}&filename=talk.yml`, { method: 'POST', headers });
    assert.equal(created.status, 201, await created.clone().text());
    const flowId = (await created.json()) as string;
    const gateway = ((await (await fetch(`${url}/flows/${flowId}`, { headers })).json()) as any).metadata.ports['8080/tcp'];
    const answer = await fetch(`http://127.0.0.1:${gateway}/index`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: ['in docker'] }) });
    assert.equal(answer.status, 200);
    let logged = '';
    for (let i = 0; i < 50 && !logged.includes('talk: in docker'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      logged = await (await fetch(`${url}/logs/${flowId}`, { headers })).text();
    }
    assert.match(logged, /talk: in docker/);
  });
});
