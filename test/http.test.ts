import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { resolveConfig } from '../src/config.ts';
import { createDaemon, type Daemon } from '../src/daemon.ts';

let d: Daemon;
before(async () => {
  d = await createDaemon(resolveConfig({ root: `/tmp/jinad-http-${process.pid}`, databaseUrl: ':memory:', backend: { kind: 'fake' }, auth: false, logLevel: 'silent', instance: `http-${process.pid}` }));
});
after(() => d.close());
const json = async (path: string, init?: RequestInit) => {
  const res = await d.app.request(path, init);
  return { status: res.status, body: (await res.json()) as any };
};

describe('core routes', () => {
  it('GET / is {}', async () => assert.deepEqual(await json('/'), { status: 200, body: {} }));

  it('GET /status has versions, the engine, counts and memory', async () => {
    const { status, body } = await json('/status');
    assert.equal(status, 200);
    for (const key of ['jinad', 'jina', 'docker', 'envs', 'workspaces', 'used_memory', 'memory']) assert.ok(key in body, key);
    assert.match(body.docker.version, /^\d+\./);
    assert.equal(body.workspaces.size, 0);
  });

  it('an unknown route is a JSON 404', async () => {
    const { status, body } = await json('/nope');
    assert.equal(status, 404);
    assert.match(body.detail, /not found/);
  });

  it('/openapi.json describes the routes, their parameters and 422 errors', async () => {
    const { body } = await json('/openapi.json');
    assert.match(body.openapi, /^3\./);
    const del = body.paths['/workspaces/{id}'].delete;
    assert.deepEqual(del.parameters.map((p: { name: string }) => p.name).sort(), ['container', 'everything', 'files', 'id', 'network']);
    assert.ok(del.responses['422']);
    assert.ok(body.paths['/workspaces'].post.requestBody.content['multipart/form-data']);
  });

  it('/docs works offline: every asset it loads is served by the daemon', async () => {
    const page = await (await d.app.request('/docs')).text();
    const refs = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(refs.length >= 2);
    for (const ref of refs) {
      assert.ok(ref.startsWith('/'), `${ref} is not local`);
      assert.equal((await d.app.request(ref)).status, 200, ref);
    }
    assert.equal((await d.app.request('/docs/..%2Fpackage.json')).status, 404);
  });
});

describe('workspace input errors (no Docker work happens)', () => {
  it('malformed ids are 422, unknown ids 404', async () => {
    for (const path of ['/workspaces/nope', '/workspaces/jflow-480ec0d8-2b5c-4c4e-9a36-7d5bd2c1d0a1', '/workspaces/jworkspace-123']) {
      const { status, body } = await json(path);
      assert.equal(status, 422, path);
      assert.equal(body.detail[0].loc.join('.'), 'param.id');
    }
    const { status, body } = await json('/workspaces/480ec0d8-2b5c-4c4e-9a36-7d5bd2c1d0a1');
    assert.equal(status, 404);
    assert.equal(body.detail, 'jworkspace-480ec0d8-2b5c-4c4e-9a36-7d5bd2c1d0a1 not found in workspace store');
    assert.equal((await json('/workspaces/480ec0d8-2b5c-4c4e-9a36-7d5bd2c1d0a1', { method: 'DELETE' })).status, 404);
    assert.equal((await json('/workspaces?id=bad', { method: 'POST' })).status, 422);
    assert.equal((await json('/workspaces/480ec0d8-2b5c-4c4e-9a36-7d5bd2c1d0a1?everything=maybe', { method: 'DELETE' })).status, 422);
  });

  it('a text field where files belong is 422; a non-multipart body is 400', async () => {
    const form = new FormData();
    form.append('files', 'just text');
    assert.equal((await json('/workspaces', { method: 'POST', body: form })).status, 422);
    const r = await json('/workspaces', { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 400);
    assert.equal((await json('/workspaces')).body.num_add, 0);
  });
});

describe('cross-origin requests', () => {
  it('a web page from another origin cannot drive the daemon; nothing is written', async () => {
    const form = new FormData();
    form.append('files', new Blob(['x']), 'a.txt');
    const res = await d.app.request('http://localhost:8000/workspaces', { method: 'POST', body: form, headers: { origin: 'https://evil.example', host: 'localhost:8000' } });
    assert.equal(res.status, 403);
    assert.match(((await res.json()) as any).detail, /cross-origin request from https:\/\/evil.example refused.*corsOrigins/);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
    assert.deepEqual((await json('/workspaces')).body.items, {});
  });
  it('the daemon itself (the /docs page) and clients without an Origin pass', async () => {
    const same = await d.app.request('http://localhost:8000/', { headers: { origin: 'http://localhost:8000', host: 'localhost:8000' } });
    assert.equal(same.status, 200);
    assert.equal((await d.app.request('/')).status, 200);
  });
  it('origins listed in corsOrigins get CORS headers and preflight answers', async () => {
    const d2 = await createDaemon(resolveConfig({ root: `/tmp/jinad-http2-${process.pid}`, databaseUrl: ':memory:', backend: { kind: 'fake' }, auth: false, logLevel: 'silent', corsOrigins: ['https://ui.example'] }));
    try {
      const pre = await d2.app.request('/workspaces', { method: 'OPTIONS', headers: { origin: 'https://ui.example', 'access-control-request-headers': 'content-type' } });
      assert.equal(pre.status, 204);
      assert.equal(pre.headers.get('access-control-allow-origin'), 'https://ui.example');
      assert.match(pre.headers.get('access-control-allow-methods') ?? '', /DELETE/);
      const get = await d2.app.request('/workspaces', { headers: { origin: 'https://ui.example' } });
      assert.equal(get.status, 200);
      assert.equal(get.headers.get('access-control-allow-origin'), 'https://ui.example');
      assert.equal((await d2.app.request('/workspaces', { headers: { origin: 'https://other.example' } })).status, 403);
    } finally {
      await d2.close();
    }
  });
});
