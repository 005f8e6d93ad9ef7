/**
 * A workspace's containers plant links in the work directory (it is mounted read-write at
 * /workspace), pointing at a host file the test made; the daemon must never read, quote, serve or
 * write through them. Each vector is planted by a real container (`docker exec` into the
 * workspace's `run` container), as an attacker's code would do it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createWorkspace, filesForm, retryFetch, startDaemon, type TestDaemon, waitForState } from '../helpers.ts';

const fixture = (f: string) => fileURLToPath(new URL(`../fixtures/runtime/${f}`, import.meta.url));
const SECRET = `HOST-SECRET-${process.pid}-${Date.now()}`;
let d: TestDaemon;
let ws: string;
let hostDir: string;
let secretFile: string;

/** Run a shell command in the workspace's `run` container: the attacker's code. */
const inContainer = (cmd: string) => execFileSync('docker', ['exec', ws, 'sh', '-c', cmd]).toString();
const noSecret = (text: string, what: string) => assert.doesNotMatch(text, new RegExp(SECRET), `${what} quotes the host file`);

before(async () => {
  hostDir = mkdtempSync(path.join(tmpdir(), 'jinad-host-'));
  secretFile = path.join(hostDir, 'secret.yml');
  writeFileSync(secretFile, `jtype: Flow\nwith:\n  name: ${SECRET}\nexecutors:\n  - name: x\n    uses: ${SECRET}\n`);
  mkdirSync(path.join(hostDir, 'drop'));
  d = await startDaemon();
  const created = await createWorkspace(d.url, {
    '.jinad': 'run = sleep 3600\n',
    'executors.ts': readFileSync(fixture('executors.ts')),
    'talkers.ts': readFileSync(fixture('talkers.ts')),
    'seq.yml': readFileSync(fixture('seq.yml')),
    'talk.yml': 'jtype: Flow\nexecutors:\n  - name: talker\n    uses: Talker\n    py_modules: [talkers.ts]\n',
  });
  assert.equal(created.item.state, 'ACTIVE', created.item.reason);
  ws = created.id;
  // The links point at host paths: dangling inside the container, real for a daemon that follows them.
  inContainer(`ln -s ${secretFile} /workspace/link.yml && ln -s ${hostDir} /workspace/linkdir`);
});
after(async () => {
  await d?.cleanup();
  rmSync(hostDir, { recursive: true, force: true });
});

const api = async (method: string, route: string, body?: unknown) => {
  const res = await fetch(`${d.url}${route}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, text: await res.text() };
};

describe('links planted by a container in the work directory', () => {
  it('POST /flows through a linked file or a linked folder: 400, nothing read', async () => {
    for (const filename of ['link.yml', 'linkdir/secret.yml']) {
      const r = await api('POST', `/flows?workspace_id=${ws}&filename=${filename}`);
      assert.equal(r.status, 400, r.text);
      assert.match(r.text, /symlink|outside the workspace/);
      noSecret(r.text, `POST /flows ${filename}`);
    }
  });

  it('executor paths out of the workspace (absolute, ../, a link) are refused without their content', async () => {
    for (const uses of [secretFile, `../../../../../../..${secretFile}`, 'link.yml', 'linkdir/secret.yml']) {
      const r = await api('POST', `/pods?workspace_id=${ws}`, { uses });
      assert.equal(r.status, 400, `${uses}: ${r.text}`);
      noSecret(r.text, `uses: ${uses}`);
    }
  });

  it("an object's log file swapped for a link, or its log folder for a linked host folder: the daemon neither serves nor writes through them", async () => {
    const flow = (await api('POST', `/flows?workspace_id=${ws}&filename=talk.yml`)).text.replaceAll('"', '');
    assert.match(flow, /^jflow-/);
    inContainer(`mkdir -p /workspace/logs/${flow} && ln -sf ${secretFile} /workspace/logs/${flow}/logging.log && ln -sfn ${hostDir}/drop /workspace/logs/${ws}`);
    const gw = JSON.parse((await api('GET', `/flows/${flow}`)).text).metadata.ports['8080/tcp'];
    await retryFetch(`http://127.0.0.1:${gw}/`);
    await fetch(`http://127.0.0.1:${gw}/index`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: ['planted'] }) });
    let log = '';
    for (let i = 0; i < 100 && !log.includes('talk: planted'); i++) {
      log = (await api('GET', `/logs/${flow}`)).text;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(log, /talk: planted/);
    noSecret(log, 'GET /logs');
    noSecret((await api('GET', `/logs/${ws}`)).text, 'GET /logs of the workspace');
    assert.deepEqual(readdirSync(path.join(hostDir, 'drop')), [], 'the daemon wrote into a host folder');
    assert.match(readFileSync(secretFile, 'utf8'), new RegExp(`^jtype: Flow\nwith:\n  name: ${SECRET}`), 'the host file is unchanged');
  });

  it('.jinad swapped for a link: the rebuild FAILS with a reason, and neither the reason nor the build log quotes the host file', async () => {
    inContainer(`ln -sf ${secretFile} /workspace/.jinad`);
    const put = await fetch(`${d.url}/workspaces/${ws}`, { method: 'PUT', body: filesForm({ 'extra.txt': 'x' }) });
    assert.equal(put.status, 200);
    const item = await waitForState(d.url, ws, ['FAILED', 'ACTIVE'], 60_000);
    assert.equal(item.state, 'FAILED');
    assert.match(item.reason, /'\.jinad' is a symlink/);
    noSecret(JSON.stringify(item), 'the workspace item');
    noSecret((await api('GET', `/logs/${ws}`)).text, 'the build log');
  });
});
