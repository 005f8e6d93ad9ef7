/**
 * Scale to zero on the fake backend: an idle-enabled Flow's gateway port is held by the daemon;
 * after its timeout without a request its container stops (status idle), and a request wakes
 * it. Requests in flight are never cut off; requests during a wake are held, not refused; a
 * failed wake answers 503 with the reason; restart policies, updates, a daemon restart and
 * deletion all keep working.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { callJson, createWorkspace, startFakeDaemon, untilItem } from '../helpers.ts';

const FILES = {
  'flow.yml': 'executors:\n  - name: hi\n    uses: Hi\n    py_modules: [hi.ts]\n',
  'sleepy.yml': 'with:\n  idle_timeout: 0.3\nexecutors:\n  - name: hi\n    uses: Hi\n    py_modules: [hi.ts]\n',
  'hi.ts': 'export class Hi {}\n',
  'grpc.yml': 'with:\n  protocol: grpc\nexecutors:\n  - name: hi\n    uses: Hi\n    py_modules: [hi.ts]\n',
};
const TIMEOUT = 0.4;

let d: Awaited<ReturnType<typeof startFakeDaemon>>;
let ws: string;
before(async () => {
  d = await startFakeDaemon({ config: { readyTimeoutMs: 3000, health: { intervalMs: 100, unhealthyAfterMs: 400 } } });
  ws = (await createWorkspace(d.url, FILES)).id;
});
after(() => d?.cleanup());

const api = (method: string, path: string, body?: unknown) => callJson(d.url, method, path, body);
async function flow(query = '', file = 'flow.yml'): Promise<string> {
  const res = await api('POST', `/flows?workspace_id=${ws}&filename=${file}&idle_timeout=${TIMEOUT}${query}`);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}
const item = async (id: string) => (await api('GET', `/flows/${id}`)).body;
const until = (id: string, ok: (item: any) => boolean, ms?: number) => untilItem(d.url, `/flows/${id}`, ok, ms);
const gatewayOf = (it: any): number => it.metadata.ports['8080/tcp'];
const running = (id: string) => d.backend.objects.get(id)?.state.running;
const isIdle = (i: any) => i.metadata.status === 'idle';

describe('scale to zero', () => {
  it('stops an object after its idle timeout; its port stays, and a request wakes it with the right answer', async () => {
    const id = await flow();
    const it0 = await item(id);
    assert.deepEqual([it0.metadata.status, it0.metadata.idle_timeout, it0.metadata.wakes], ['running', TIMEOUT, 0]);
    const port = gatewayOf(it0);
    assert.notEqual(port, d.backend.objects.get(id)!.state.ports['8080/tcp'], 'the daemon holds the published port');
    const idle = await until(id, isIdle);
    assert.equal(running(id), false, 'its container stopped');
    assert.equal(gatewayOf(idle), port, 'the same port is published while idle');
    const res = await fetch(`http://127.0.0.1:${port}/status`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { object: string }).object, id);
    // (Not its status right now: it may be idle again already, a timeout later.)
    const woke = await item(id);
    assert.deepEqual([woke.metadata.wakes, woke.metadata.restarts, woke.metadata.last_exit], [1, 0, null]);
    assert.ok(woke.metadata.last_wake);
    // And it goes idle again: a wake is not a restart, an idle stop is not a failure.
    const again = await until(id, isIdle);
    assert.deepEqual([again.metadata.restarts, again.metadata.last_exit], [0, null]);
  });

  it('never cuts off a request that runs longer than the timeout; idleness counts from its end', async () => {
    const id = await flow();
    const port = gatewayOf(await item(id));
    const startedAt = d.backend.objects.get(id)!.state.startedAt;
    const t0 = Date.now();
    const res = await fetch(`http://127.0.0.1:${port}/?delay=${TIMEOUT * 3000}`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { object: string }).object, id);
    assert.ok(Date.now() - t0 >= TIMEOUT * 3000);
    // Had it stopped under the request, the answer would have failed; and no wake happened since.
    assert.deepEqual([(await item(id)).metadata.wakes, d.backend.objects.get(id)!.state.startedAt], [0, startedAt]);
    await until(id, isIdle);
  });

  it('holds 50 concurrent requests during one wake, and answers all of them', async () => {
    const id = await flow();
    const port = gatewayOf(await until(id, isIdle));
    const answers = await Promise.all(Array.from({ length: 50 }, () => fetch(`http://127.0.0.1:${port}/`).then(async (r) => [r.status, ((await r.json()) as { object: string }).object])));
    assert.deepEqual(new Set(answers.map((a) => JSON.stringify(a))), new Set([JSON.stringify([200, id])]));
    assert.equal((await item(id)).metadata.wakes, 1, 'one wake for all of them');
  });

  it('a wake that fails answers 503 with the reason and Retry-After; the object shows failed', async () => {
    const id = await flow('&envs=JINAD_FAKE=resume-fails:the executor threw in its constructor');
    const port = gatewayOf(await until(id, isIdle));
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(res.status, 503);
    assert.ok(Number(res.headers.get('retry-after')) > 0);
    const body = (await res.json()) as { detail: string; body: string[] };
    assert.match(body.detail, /could not wake/);
    assert.ok(body.body.some((l) => l.includes('the executor threw in its constructor')), JSON.stringify(body));
    const it1 = await item(id);
    assert.equal(it1.metadata.status, 'failed');
    assert.match(it1.metadata.last_exit.reason, /could not wake/);
    assert.equal(running(id), false, 'left stopped, not in a crash loop');
  });

  it('a scale of an idle object wakes it and applies; the YAML gives a timeout; an `always` policy does not undo an idle stop', async () => {
    const id = await flow('&restart=always');
    await until(id, isIdle);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(running(id), false, 'the keeper did not start it again');
    const res = await api('PUT', `/flows/scale/${id}?pod_name=hi&replicas=2`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const it1 = await item(id);
    assert.deepEqual([it1.metadata.wakes, it1.arguments.replicas.hi], [1, 2]);
    const fromYaml = (await api('POST', `/flows?workspace_id=${ws}&filename=sleepy.yml`)).body;
    assert.equal((await item(fromYaml)).metadata.idle_timeout, 0.3);
    await until(fromYaml, isIdle);
  });

  it('an idle object stays idle across a daemon restart, and still wakes', async () => {
    const id = await flow();
    const port = gatewayOf(await until(id, isIdle));
    await d.stop();
    d = Object.assign(await startFakeDaemon({ backend: d.backend, root: d.root, instance: d.instance, logsPort: d.logsPort, config: { readyTimeoutMs: 3000 } }), {});
    const it1 = await item(id);
    assert.deepEqual([it1.metadata.status, gatewayOf(it1)], ['idle', port]);
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(res.status, 200);
    assert.equal((await item(id)).metadata.wakes, 1);
  });

  it('deleting an idle object leaves nothing: no container, its port closed', async () => {
    const id = await flow();
    const port = gatewayOf(await until(id, isIdle));
    assert.equal((await api('DELETE', `/flows/${id}`)).status, 200);
    assert.equal(d.backend.objects.has(id), false);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/`));
  });

  it('refuses an idle_timeout for a gRPC Flow (its port cannot be held while it sleeps), saying why', async () => {
    const res = await api('POST', `/flows?workspace_id=${ws}&filename=grpc.yml&idle_timeout=5`);
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.match(res.body.detail, /idle_timeout cannot apply: a gRPC gateway/);
  });

  it('refuses a bad idle_timeout with 422 and starts nothing', async () => {
    const before = d.backend.objects.size;
    for (const bad of ['-1', 'soon', '100000']) {
      const res = await api('POST', `/flows?workspace_id=${ws}&filename=flow.yml&idle_timeout=${bad}`);
      assert.equal(res.status, 422, `${bad}: ${JSON.stringify(res.body)}`);
      assert.match(JSON.stringify(res.body), /idle_timeout/);
    }
    assert.equal(d.backend.objects.size, before);
  });
});
