/** Deletes under concurrency (fake backend): idempotent, never a 5xx, nothing left, counters right. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createWorkspace, startFakeDaemon } from '../helpers.ts';

let d: Awaited<ReturnType<typeof startFakeDaemon>>;
before(async () => {
  d = await startFakeDaemon();
});
after(() => d?.cleanup());

const files = { 'flow.yml': 'executors:\n  - name: a\n    uses: Hi\n    py_modules: [hi.ts]\n', 'hi.ts': 'export class Hi {}\n' };
const call = async (method: string, route: string) => {
  const res = await fetch(`${d.url}${route}`, { method });
  return { status: res.status, body: (await res.json()) as any };
};

describe('concurrent deletes', () => {
  it('ten DELETEs of one Flow and of its workspace at once: 200 or 404, one deletion each, nothing left', async () => {
    const ws = (await createWorkspace(d.url, files)).id;
    const flow = (await call('POST', `/flows?workspace_id=${ws}&filename=flow.yml`)).body as string;
    const before = (await call('GET', '/flows')).body.num_del;
    const results = await Promise.all([
      ...Array.from({ length: 5 }, () => call('DELETE', `/flows/${flow}`)),
      ...Array.from({ length: 5 }, () => call('DELETE', `/workspaces/${ws}?everything=true`)),
    ]);
    for (const r of results) assert.ok([200, 404].includes(r.status), JSON.stringify(r));
    assert.equal((await call('GET', '/flows')).body.num_del, before + 1, 'the Flow was counted as deleted once');
    assert.equal((await call('GET', `/workspaces/${ws}`)).status, 404);
    assert.equal([...d.backend.objects.values()].filter((o) => o.spec.workspaceId === ws).length, 0);
    assert.equal(d.backend.networks.has(ws), false);
  });

  it('a workspace deleted while a Flow in it starts: the DELETE succeeds, the POST gets a 4xx, nothing is left', async () => {
    const ws = (await createWorkspace(d.url, files)).id;
    const creating = call('POST', `/flows?workspace_id=${ws}&filename=flow.yml&envs=JINAD_FAKE=slow:400`);
    await new Promise((r) => setTimeout(r, 100));
    const deleted = await call('DELETE', `/workspaces/${ws}?everything=true`);
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    const created = await creating;
    assert.ok(created.status >= 400 && created.status < 500, JSON.stringify(created));
    assert.deepEqual((await call('GET', '/flows')).body.items, {});
    assert.equal([...d.backend.objects.values()].filter((o) => o.spec.workspaceId === ws).length, 0);
    assert.equal(d.backend.networks.has(ws), false);
  });
});

describe('shutdown', () => {
  it('SIGTERM during POST /flows: the request finishes (201), new connections are refused, and the Flow is there after the restart', async () => {
    const ws = (await createWorkspace(d.url, files)).id;
    const creating = fetch(`${d.url}/flows?workspace_id=${ws}&filename=flow.yml&envs=JINAD_FAKE=slow:800`, { method: 'POST' });
    await new Promise((r) => setTimeout(r, 200));
    const stopping = d.stop();
    await new Promise((r) => setTimeout(r, 100));
    await assert.rejects(fetch(`${d.url}/`), 'a new connection was accepted while draining');
    const created = await creating;
    assert.equal(created.status, 201);
    const id = (await created.json()) as string;
    await stopping;
    d = Object.assign(await startFakeDaemon({ root: d.root, instance: d.instance, logsPort: d.logsPort, backend: d.backend }), { backend: d.backend });
    assert.equal((await call('GET', `/flows/${id}`)).body.metadata.status, 'running');
  });
});
