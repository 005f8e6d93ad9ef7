/**
 * Scale to zero on the real Docker Engine: an idle Flow's container stops, its published port
 * keeps answering, and a request wakes it; long requests and open WebSocket streams keep it
 * awake; 50 requests during a wake are all served; a wake that fails (the executor throws in its
 * constructor) answers 503 with the reason; an idle Flow survives a daemon restart and still
 * wakes; deleting it leaves nothing. A wake (and a create after the first) takes a warm spare
 * container; with spares off, the object's own stopped container starts again.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { LABEL, docker } from '../docker.ts';
import { callJson, createWorkspace, startDaemon, type TestDaemon, untilItem } from '../helpers.ts';

const IDLE_S = 1;
const FRAGILE = `import { Executor, requests } from 'jinad';
import { existsSync } from 'node:fs';
export class Fragile extends Executor {
  constructor(args: Record<string, unknown> = {}) {
    super(args);
    if (existsSync('/workspace/broken')) throw new Error('Fragile refuses to start: /workspace/broken exists');
  }
  @requests()
  mark({ docs }: { docs: { tags: Record<string, unknown> }[] }) {
    for (const d of docs) d.tags.fragile = true;
  }
}
`;
const FILES = {
  'executors.ts': readFileSync(fileURLToPath(new URL('../fixtures/runtime/executors.ts', import.meta.url))),
  'fragile.ts': FRAGILE,
  'flow.yml': 'jtype: Flow\nexecutors:\n  - name: tag\n    uses: ReplicaTagger\n    py_modules: [executors.ts]\n',
  'fragile.yml': 'jtype: Flow\nexecutors:\n  - name: fragile\n    uses: Fragile\n    py_modules: [fragile.ts]\n',
};

let d: TestDaemon;
let ws: string;
let workdir: string;
before(async () => {
  d = await startDaemon({ config: { readyTimeoutMs: 30_000 } });
  const created = await createWorkspace(d.url, FILES);
  assert.equal(created.item.state, 'ACTIVE', created.item.reason);
  ws = created.id;
  workdir = created.item.metadata.workdir;
});
after(() => d?.cleanup());

const api = (method: string, p: string, body?: unknown) => callJson(d.url, method, p, body);
async function flow(file = 'flow.yml'): Promise<{ id: string; port: number }> {
  const res = await api('POST', `/flows?workspace_id=${ws}&filename=${file}&idle_timeout=${IDLE_S}`);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const item = (await api('GET', `/flows/${res.body}`)).body;
  return { id: res.body, port: item.metadata.ports['8080/tcp'] };
}
const item = async (id: string) => (await api('GET', `/flows/${id}`)).body;
const until = (id: string, ok: (item: any) => boolean, ms = 20_000) => untilItem(d.url, `/flows/${id}`, ok, ms);
const isIdle = (i: any) => i.metadata.status === 'idle';
const containerRunning = async (id: string) => (await docker.inspectContainer(id))?.running ?? false;
/** The workspace's containers that are or were warm spares, once `n` of them are unclaimed and running. */
async function untilSpares(n: number) {
  for (let i = 0; ; i++) {
    const all = (await docker.listLabelled({ [LABEL.workspace]: ws })).containers.filter((c) => c.labels['io.jinad.spare']);
    const unclaimed = all.filter((c) => c.name === c.labels[LABEL.object]);
    if (unclaimed.length >= n || i >= 200) return all;
    await new Promise((r) => setTimeout(r, 100));
  }
}
const index = (port: number, parameters: Record<string, unknown> = {}) =>
  fetch(`http://127.0.0.1:${port}/index`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: [{ text: 'hello' }], parameters }) });

describe('scale to zero on the engine', () => {
  it('stops the container when idle and wakes on a request in a warm spare, with the right answer; both containers log to the same object log', async () => {
    const { id, port } = await flow();
    const first = (await docker.inspectContainer(id))!.id;
    await until(id, isIdle);
    assert.equal(await containerRunning(id), false, 'no container running while idle');
    // Made with the Flow: one spare for objects like it, not running any object.
    const spares = await untilSpares(1);
    // Each spare's own start is over (its partial daemon said so) before one becomes the Flow: on a
    // busy machine a line it printed before could otherwise still be on its way, and be taken as the Flow's.
    for (const c of spares.filter((s) => s.name === s.labels[LABEL.object])) {
      for (let i = 0; i < 300 && !execFileSync('docker', ['logs', c.id], { stdio: ['ignore', 'pipe', 'pipe'] }).toString().includes('listening'); i++) await new Promise((r) => setTimeout(r, 100));
    }
    const res = await index(port);
    assert.equal(res.status, 200);
    const out = (await res.json()) as { data: { docs: { tags: Record<string, unknown> }[] } };
    assert.equal(out.data.docs[0]!.tags.version, 'v0');
    // (Not its status right now: it may be idle again already, a timeout later.)
    const woke = await item(id);
    assert.deepEqual([woke.metadata.wakes, woke.metadata.restarts, woke.metadata.last_exit], [1, 0, null]);
    const now = (await docker.inspectContainer(id))!.id;
    assert.notEqual(now, first, 'woken in another container');
    assert.ok(spares.some((c) => c.id === now), 'the spare became the Flow');
    assert.equal(woke.metadata.container_id, now.slice(0, 10));
    assert.equal((await untilSpares(1)).filter((c) => c.id !== now).length, 1, 'another spare took its place');
    // The object's log has lines of both containers: the first one's start, the woken one's answer
    // (its log tag names the spare it was).
    let log = '';
    for (let i = 0; i < 100 && !log.includes('POST /index'); i++) {
      if (i) await new Promise((r) => setTimeout(r, 100));
      log = await (await fetch(`${d.url}/logs/${id}`)).text();
    }
    assert.equal(log.split('\n').filter((l) => l.includes('partial daemon (flow) listening')).length, 1);
    assert.match(log, /POST \/index → \/index: 1 docs, ok/);
    await api('DELETE', `/flows/${id}`);
  });

  it('a request longer than the timeout is never cut off, and an open WebSocket stream keeps it awake', async () => {
    const { id, port } = await flow();
    const startedAt = (await docker.inspectContainer(id))!.startedAt;
    const res = await index(port, { sleep_ms: IDLE_S * 2500 });
    assert.equal(res.status, 200, 'not cut off');
    assert.deepEqual([(await item(id)).metadata.wakes, (await docker.inspectContainer(id))!.startedAt], [0, startedAt], 'not stopped under it');
    await until(id, isIdle);
    assert.equal((await index(port)).status, 200); // awake again for the stream
    const socket = new WebSocket(`ws://127.0.0.1:${port}/stream`);
    await new Promise((r, j) => socket.once('open', r).once('error', j));
    await new Promise((r) => setTimeout(r, IDLE_S * 2500));
    assert.equal((await item(id)).metadata.status, 'running', 'an open stream is activity');
    const answer = new Promise<any>((r) => socket.once('message', (m) => r(JSON.parse(String(m)))));
    socket.send(JSON.stringify({ exec_endpoint: '/index', request_id: 'r1', data: ['over the stream'] }));
    assert.equal((await answer).requestId, 'r1');
    socket.close();
    await until(id, isIdle);
    assert.equal((await item(id)).metadata.wakes, 1, 'the stream held it awake: no second wake');
    await api('DELETE', `/flows/${id}`);
  });

  it('holds 50 concurrent requests during a wake and answers every one', async () => {
    const { id, port } = await flow();
    await until(id, isIdle);
    const statuses = await Promise.all(Array.from({ length: 50 }, () => index(port).then((r) => r.status)));
    assert.deepEqual(new Set(statuses), new Set([200]));
    assert.equal((await item(id)).metadata.wakes, 1);
    await api('DELETE', `/flows/${id}`);
  });

  it('a wake that fails (the executor throws in its constructor) answers 503 with the reason; the object shows failed, and wakes once fixed', async () => {
    const { id, port } = await flow('fragile.yml');
    await until(id, isIdle);
    writeFileSync(path.join(workdir, 'broken'), '');
    try {
      const res = await index(port);
      assert.equal(res.status, 503);
      assert.ok(res.headers.get('retry-after'));
      const body = (await res.json()) as { detail: string; body: string[] };
      assert.match(body.detail, /could not wake/);
      assert.ok(body.body.some((l) => l.includes('Fragile refuses to start')), JSON.stringify(body));
      const failed = await item(id);
      assert.equal(failed.metadata.status, 'failed');
      assert.match(failed.metadata.last_exit.reason, /could not wake/);
      assert.equal(await containerRunning(id), false);
    } finally {
      rmSync(path.join(workdir, 'broken'), { force: true });
    }
    const again = await index(port);
    assert.equal(again.status, 200);
    assert.equal((await item(id)).metadata.wakes, 1);
    await api('DELETE', `/flows/${id}`);
  });

  it('an idle Flow stays idle across a daemon restart and still wakes; scaled while idle, it wakes with the new replicas; deleted, it leaves nothing', async () => {
    const { id, port } = await flow();
    await until(id, isIdle);
    await d.stop();
    d = Object.assign(await startDaemon({ root: d.root, instance: d.instance, logsPort: d.logsPort, config: { readyTimeoutMs: 30_000 } }), {});
    assert.equal((await item(id)).metadata.status, 'idle');
    assert.equal(await containerRunning(id), false);
    assert.equal((await index(port)).status, 200);
    await until(id, isIdle);
    const scaled = await api('PUT', `/flows/scale/${id}?pod_name=tag&replicas=2`);
    assert.equal(scaled.status, 200, JSON.stringify(scaled.body));
    await until(id, isIdle);
    const seen = new Set<unknown>();
    for (let i = 0; i < 20; i++) seen.add(((await (await index(port)).json()) as any).data.docs[0].tags.replica_id);
    assert.equal(seen.size, 2, 'woken, it runs both replicas');
    assert.equal((await api('DELETE', `/flows/${id}`)).status, 200);
    assert.equal(await docker.inspectContainer(id), undefined);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/`), 'its port is closed');
  });

  it('with spares off (idleSpares 0), a wake starts its own stopped container, its Pea beside the runtime loading', async () => {
    await d.stop();
    d = await startDaemon({ root: d.root, instance: d.instance, logsPort: d.logsPort, config: { readyTimeoutMs: 30_000, idleSpares: 0 } });
    assert.equal((await untilSpares(0)).length, 0, 'a daemon starting removes the spares of the one before');
    const { id, port } = await flow();
    const first = (await docker.inspectContainer(id))!.id;
    await until(id, isIdle);
    assert.equal((await index(port)).status, 200);
    assert.equal((await docker.inspectContainer(id))!.id, first, 'the same container');
    const resumed = /flow resumed after a restart \(1 Pea\(s\) started with the container\)/;
    let log = '';
    for (let i = 0; i < 100 && !resumed.test(log); i++) {
      if (i) await new Promise((r) => setTimeout(r, 100));
      log = await (await fetch(`${d.url}/logs/${id}`)).text();
    }
    assert.match(log, resumed);
    assert.equal(log.split('\n').filter((l) => l.includes('partial daemon (flow) listening')).length, 2);
    assert.equal((await untilSpares(0)).length, 0, 'no spare made');
    await api('DELETE', `/flows/${id}`);
  });

  it('a deleted workspace takes its spares with it', async () => {
    await d.stop();
    d = await startDaemon({ root: d.root, instance: d.instance, logsPort: d.logsPort, config: { readyTimeoutMs: 30_000 } });
    await flow();
    await untilSpares(1);
    assert.equal((await api('DELETE', `/workspaces/${ws}?everything=true`)).status, 200);
    assert.deepEqual((await docker.listLabelled({ [LABEL.workspace]: ws })).containers, []);
  });
});
