/** The partial daemon: the API through which the main daemon manages the one object in a container. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { partialApp } from '../../src/runtime/partial.ts';
import { freePort } from '../helpers.ts';
import { distinctTag, fixture, post } from './helpers.ts';

const stops: (() => Promise<void>)[] = [];
after(async () => {
  for (const s of stops) await s();
});
function partial(mode: 'flow' | 'pod' | 'pea') {
  const p = partialApp(mode, { workspace: fixture('.') });
  stops.push(p.stop);
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await p.app.request(path, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };
  return call;
}

describe('partial daemon', () => {
  it('flow: create, get, scale, rolling_update, delete', async () => {
    const call = partial('flow');
    assert.deepEqual((await call('GET', '/')).body, {});
    assert.equal((await call('GET', '/flow')).status, 404);
    const created = await call('POST', '/flow', { flow: { uses: 'seq.yml' }, envs: { SOME: 'env' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const port = created.body.arguments.port_expose;
    assert.equal(created.body.arguments.protocol, 'HTTP');
    assert.match(created.body.yaml_source, /jtype: Flow/);
    assert.equal((await post(port, '/index', { data: ['x'] })).data.docs[0].text, 'X');
    assert.equal((await call('POST', '/flow', { flow: { uses: 'seq.yml' } })).status, 400);

    const scaled = await call('PUT', '/flow/scale?pod_name=first&replicas=2');
    assert.equal(scaled.status, 200, JSON.stringify(scaled.body));
    assert.equal(scaled.body.arguments.pods.first.replicas, 2);
    const updated = await call('PUT', '/flow/rolling_update?pod_name=first', { uses_with: { tag: 'two' } });
    assert.equal(updated.status, 200);
    assert.deepEqual([...(await distinctTag(port, 'first', 20))], ['two']);
    const badPod = await call('PUT', '/flow/scale?pod_name=nope&replicas=2');
    assert.equal(badPod.status, 400);
    assert.match(badPod.body.detail, /no executor named 'nope'/);

    assert.equal((await call('DELETE', '/flow')).status, 200);
    assert.equal((await call('GET', '/flow')).status, 404);
  });

  it('flow: a failure is 400 with the runtime error and the executor output', async () => {
    const call = partial('flow');
    const r = await call('POST', '/flow', { flow: { uses: 'missing-module.yml' } });
    assert.equal(r.status, 400);
    assert.match(r.body.detail, /can not find executor_ex\.ts/);
    assert.ok(Array.isArray(r.body.body) && r.body.body.length > 0);
    const none = await call('POST', '/flow', { flow: {} });
    assert.match(none.body.detail, /uses yaml file was not specified/);
    const missing = await call('POST', '/flow', { flow: { uses: 'nope.yml' } });
    assert.match(missing.body.detail, /nope\.yml: file not found/);
  });

  it('pod: replicas behind a head on port_in; scale and rolling_update', async () => {
    const call = partial('pod');
    const portIn = await freePort();
    const created = await call('POST', '/pod', { pod: { name: 'p', uses: 'ReplicaTagger', py_modules: ['executors.ts'], replicas: 2, port_in: portIn }, envs: {} });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.arguments.port_in, portIn);
    const send = async () => {
      const res = await fetch(`http://127.0.0.1:${portIn}/`, {
        method: 'POST',
        body: JSON.stringify({ requestId: 'x', header: { execEndpoint: '/index' }, parameters: {}, routes: [], status: { code: 0, description: '' }, data: { docs: [{ text: 'a' }] } }),
      });
      return ((await res.json()) as any).data.docs[0].tags;
    };
    const replicas = new Set<number>();
    for (let i = 0; i < 6; i++) replicas.add((await send()).replica_id);
    assert.deepEqual([...replicas].sort(), [0, 1]);
    assert.equal((await call('PUT', '/pod/scale?replicas=3')).body.arguments.replicas, 3);
    assert.equal((await call('PUT', '/pod/scale?replicas=zero')).status, 400);
    assert.equal((await call('PUT', '/pod/rolling_update', { uses_with: { version: 'v2' } })).status, 200);
    assert.equal((await send()).version, 'v2');
    assert.equal((await call('DELETE', '/pod')).status, 200);
  });

  it('pea: one executor on port_in, no updates', async () => {
    const call = partial('pea');
    const portIn = await freePort();
    const created = await call('POST', '/pea', { pea: { name: 'solo', uses: 'Tagger', py_modules: ['executors.ts'], uses_with: { tag: 'pea' }, port_in: portIn } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const res = await fetch(`http://127.0.0.1:${portIn}/`, {
      method: 'POST',
      body: JSON.stringify({ requestId: 'x', header: { execEndpoint: '/index' }, parameters: {}, routes: [], status: { code: 0, description: '' }, data: { docs: [{ text: 'a' }] } }),
    });
    assert.equal(((await res.json()) as any).data.docs[0].tags.solo, 'pea');
    assert.equal((await call('PUT', '/pea/scale?replicas=2')).status, 404);
    const bad = await call('POST', '/pea', { pea: { uses: 'Enc', py_modules: ['enc.py'] } });
    assert.equal(bad.status, 400);
  });
});
