/**
 * Bounds (fake backend, real HTTP): replicas are capped per executor, per workspace and per
 * daemon, at creation and when scaling; over-long request lines and headers get 414/431 in
 * words, not a reset.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createWorkspace, startFakeDaemon } from '../helpers.ts';

let d: Awaited<ReturnType<typeof startFakeDaemon>>;
let ws: string;
let other: string;
before(async () => {
  d = await startFakeDaemon({ config: { limits: { replicas: 4, workspaceReplicas: 6, daemonReplicas: 8 } } });
  const files = { 'hi.ts': 'export class Hi {}\n', 'flow.yml': 'executors:\n  - name: a\n    uses: Hi\n    py_modules: [hi.ts]\n    replicas: 2\n  - name: b\n    uses: Hi\n    py_modules: [hi.ts]\n' };
  ws = (await createWorkspace(d.url, files)).id;
  other = (await createWorkspace(d.url, files)).id;
});
after(() => d?.cleanup());

const call = async (method: string, route: string, body?: unknown) => {
  const res = await fetch(`${d.url}${route}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
};
const pod = (workspace: string, replicas: number) => call('POST', `/pods?workspace_id=${workspace}`, { uses: 'Hi', py_modules: ['hi.ts'], replicas });

describe('replica limits', () => {
  it('per executor, per workspace and per daemon, at creation and when scaling', async () => {
    const tooMany = await pod(ws, 1_000_000);
    assert.deepEqual([tooMany.status, tooMany.body.code], [400, 'limit_exceeded']);
    assert.match(tooMany.body.detail, /1000000 replicas; at most 4 per executor/);
    const flow = await call('POST', `/flows?workspace_id=${ws}&filename=flow.yml`); // 2 + 1
    assert.equal(flow.status, 201, JSON.stringify(flow.body));
    const p = await pod(ws, 3); // 6 in the workspace
    assert.equal(p.status, 201, JSON.stringify(p.body));
    const over = await pod(ws, 1);
    assert.match(over.body.detail, /would run 7 replicas; at most 6 per workspace/);
    const scaleUp = await call('PUT', `/pods/scale/${p.body}?replicas=4`);
    assert.deepEqual([scaleUp.status, scaleUp.body.code], [400, 'limit_exceeded']);
    assert.equal((await call('PUT', `/pods/scale/${p.body}?replicas=1`)).status, 200); // 4 in the workspace
    assert.equal((await call('PUT', `/flows/scale/${flow.body}?pod_name=b&replicas=3`)).status, 200); // 6 again
    assert.equal((await pod(other, 2)).status, 201); // 8 in the daemon
    const daemonFull = await pod(other, 1);
    assert.match(daemonFull.body.detail, /this daemon would run 9 replicas; at most 8 in all/);
    assert.equal((await call('DELETE', `/pods/${p.body}`)).status, 200); // 7
    assert.equal((await pod(other, 1)).status, 201);
  });
});

describe('over-long requests', () => {
  const raw = (request: string) =>
    new Promise<string>((resolve) => {
      const s = net.connect(Number(new URL(d.url).port), '127.0.0.1');
      let got = '';
      s.on('data', (c) => (got += c));
      s.on('error', () => {});
      s.on('close', () => resolve(got));
      s.write(request);
    });
  it('a 100 KB request line is 414 and 100 KB of headers 431, answered in JinaD error bodies', async () => {
    const line = await raw(`GET /workspaces/${'x'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.match(line, /^HTTP\/1\.1 414 URI Too Long/);
    assert.match(line, /"detail":"the request line is too long/);
    const headers = await raw(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'y'.repeat(100_000)}\r\n\r\n`);
    assert.match(headers, /^HTTP\/1\.1 431 Request Header Fields Too Large/);
    assert.equal((await fetch(`${d.url}/`)).status, 200, 'the daemon still serves');
  });
});
