/**
 * Restart policies and health on the fake backend (which applies a container's policy as Docker
 * does, and keeps an object's own files across its restarts): crashes, removals behind the
 * daemon's back, a hung object, a daemon restart.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { callJson, createWorkspace, startFakeDaemon, untilItem } from '../helpers.ts';

const FILES = { 'flow.yml': 'executors:\n  - name: hi\n    uses: Hi\n    py_modules: [hi.ts]\n', 'hi.ts': 'export class Hi {}\n' };

let d: Awaited<ReturnType<typeof startFakeDaemon>>;
let ws: string;
before(async () => {
  d = await startFakeDaemon({ config: { readyTimeoutMs: 3000, health: { intervalMs: 100, unhealthyAfterMs: 400 } } });
  ws = (await createWorkspace(d.url, FILES)).id;
});
after(() => d?.cleanup());

const api = (method: string, path: string, body?: unknown) => callJson(d.url, method, path, body);
async function flow(restart?: string): Promise<string> {
  const res = await api('POST', `/flows?workspace_id=${ws}&filename=flow.yml${restart ? `&restart=${restart}` : ''}`);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}
const item = async (id: string) => (await api('GET', `/flows/${id}`)).body;
/** Poll the item until `ok` holds (or fail after `ms`). */
const until = (id: string, ok: (item: any) => boolean, ms?: number) => untilItem(d.url, `/flows/${id}`, ok, ms);
/** The Flow its partial daemon runs (after a restart: resumed from its own state, or started again), once it does. */
async function inside(it: any): Promise<number> {
  let status = 0;
  for (let i = 0; i < 200 && status !== 200; i++) {
    if (i) await new Promise((r) => setTimeout(r, 25));
    const now = (await item(it.metadata.container_name)).metadata.uri; // its ports may have changed
    status = await fetch(`${now}/flow`).then((r) => r.status, () => 0);
  }
  return status;
}

describe('restart policies', () => {
  it('default on-failure: a crash is restarted, the object resumes, the item counts it and says why', async () => {
    const id = await flow();
    assert.equal((await item(id)).metadata.restart, 'on-failure');
    await d.backend.crash(id, 137);
    const it1 = await until(id, (i) => i.metadata.status === 'running' && i.metadata.restarts === 1);
    assert.deepEqual([it1.metadata.last_exit.exit_code, it1.metadata.last_exit.reason], [137, 'killed (exit code 137)']);
    assert.equal(await inside(it1), 200, 'the partial daemon runs the Flow again');
  });

  it('a `docker kill` (which the engine does not restart) is started again by the daemon', async () => {
    const id = await flow();
    await d.backend.kill(id);
    const it1 = await until(id, (i) => i.metadata.status === 'running' && i.metadata.restarts === 1);
    assert.equal(it1.metadata.last_exit.exit_code, 137);
    assert.equal(await inside(it1), 200);
  });

  it('on-failure: a clean exit (code 0) stays stopped; an OOM kill is named', async () => {
    const id = await flow();
    await d.backend.crash(id, 0);
    const it1 = await until(id, (i) => i.metadata.last_exit?.exit_code === 0);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual([(await item(id)).metadata.status, it1.metadata.restarts], ['exited', 0]);
    const oom = await flow();
    await d.backend.crash(oom, 137, { oom: true });
    const it2 = await until(oom, (i) => i.metadata.restarts === 1 && i.metadata.status === 'running');
    assert.match(it2.metadata.last_exit.reason, /memory limit/);
  });

  it('no: a crash stays stopped', async () => {
    const id = await flow('no');
    await d.backend.crash(id, 1);
    await until(id, (i) => i.metadata.last_exit?.exit_code === 1);
    await new Promise((r) => setTimeout(r, 300));
    const it1 = await item(id);
    assert.deepEqual([it1.metadata.status, it1.metadata.restarts, it1.arguments.restart], ['exited', 0, 'no']);
  });

  it('always: an object whose container is removed behind the daemon is made again with the same id', async () => {
    const id = await flow('always');
    const before = d.backend.objects.get(id)!.state.ref;
    await d.backend.removeObject(id); // as `docker rm -f`
    const it1 = await until(id, (i) => i.metadata.status === 'running' && i.metadata.restarts === 1);
    assert.equal(await inside(it1), 200);
    assert.ok(d.backend.objects.has(id));
    assert.equal(before, d.backend.objects.get(id)!.state.ref, 'same name (the fake derives the ref from it)');
  });

  it('on-failure: a removed object is not made again; it shows as missing', async () => {
    const id = await flow();
    await d.backend.removeObject(id);
    await until(id, (i) => i.metadata.status === 'missing');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await item(id)).metadata.status, 'missing');
  });

  it('a DELETE is not a failure: nothing is restarted or made again', async () => {
    const id = await flow('always');
    assert.equal((await api('DELETE', `/flows/${id}`)).status, 200);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(d.backend.objects.has(id), false);
    assert.equal((await api('GET', `/flows/${id}`)).status, 404);
  });

  it('a hung object (its partial daemon stops answering) is restarted after health.unhealthyAfterMs', async () => {
    const id = await flow();
    d.backend.hang(id);
    const it1 = await until(id, (i) => i.metadata.restarts === 1 && i.metadata.status === 'running');
    assert.match(it1.metadata.last_exit.reason, /^unhealthy/);
    assert.equal(await inside(it1), 200);
  });

  it('a bad policy is 422 and starts nothing', async () => {
    const before = d.backend.objects.size;
    for (const bad of ['sometimes', 'on-failure:0', 'on-failure:x', 'always:3']) {
      const res = await api('POST', `/flows?workspace_id=${ws}&filename=flow.yml&restart=${bad}`);
      assert.equal(res.status, 422, bad);
      assert.match(JSON.stringify(res.body), /restart must be/);
    }
    assert.equal(d.backend.objects.size, before);
  });

  it('a daemon restart leaves running objects alone and makes again an `always` one that went meanwhile', async () => {
    const keep = await flow('always');
    const gone = await flow('always');
    const ref = d.backend.objects.get(keep)!.state.startedAt;
    await d.stop();
    await d.backend.removeObject(gone);
    d = Object.assign(await startFakeDaemon({ backend: d.backend, root: d.root, instance: d.instance, logsPort: d.logsPort, config: { readyTimeoutMs: 3000 } }), {});
    const it1 = await until(gone, (i) => i.metadata.status === 'running' && i.metadata.restarts === 1);
    assert.equal(await inside(it1), 200);
    assert.equal(d.backend.objects.get(keep)!.state.startedAt, ref, 'the running one was not touched');
    assert.equal((await item(keep)).metadata.restarts, 0);
  });
});
