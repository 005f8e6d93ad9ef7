/**
 * The Swarm backend on a single-node Swarm (the test engine: made a Swarm here if it is none,
 * and left again only then) with a real registry: workspace → Flow → request → scale →
 * rolling_update → logs → delete, as the Docker backend's tests do it, and what it leaves behind.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createSwarmBackend } from '../../src/backend/swarm/index.ts';
import { docker, LABEL } from '../docker.ts';
import { callJson, createWorkspace, freePort, retryFetch, startDaemon, type TestDaemon, untilItem } from '../helpers.ts';
import { ensureSwarm, startRegistry, type TestRegistry } from './helpers.ts';

const FILES = ['executors.ts', 'seq.yml', 'replicas.yml'];
const fixture = (f: string) => fileURLToPath(new URL(`../fixtures/runtime/${f}`, import.meta.url));

let swarm: Awaited<ReturnType<typeof ensureSwarm>>;
let registry: TestRegistry;
let d: TestDaemon;
before(async () => {
  swarm = await ensureSwarm();
  registry = await startRegistry();
  d = await startDaemon({ config: { backend: { kind: 'swarm', registry: registry.address } } });
});
after(async () => {
  await d?.cleanup();
  await registry?.stop();
  await swarm?.leave();
});

const api = (method: string, path: string, body?: unknown) => callJson(d.url, method, path, body);
const services = async () => (await docker.engine.listServices({ filters: JSON.stringify({ label: [`${LABEL.instance}=${d.instance}`] }) })).map((s) => s.Spec?.Name);
const index = async (port: number, n = 2) => {
  await retryFetch(`http://127.0.0.1:${port}/`, 15_000);
  const res = await fetch(`http://127.0.0.1:${port}/index`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: Array.from({ length: n }, (_, i) => ({ text: `doc ${i}` })) }) });
  return (await res.json()) as any;
};
/** The object's log (JSON lines) once it matches, as the daemon's receiver wrote it. */
const untilLog = async (id: string, re: RegExp, ms = 20_000) => {
  const deadline = Date.now() + ms;
  for (;;) {
    const text = await (await fetch(`${d.url}/logs/${id}`)).text();
    if (re.test(text) || Date.now() > deadline) return text;
    await new Promise((r) => setTimeout(r, 200));
  }
};
const distinct = async (port: number, tag: string) => {
  const seen = new Set<unknown>();
  for (let i = 0; i < 20; i++) for (const doc of (await index(port)).data.docs) seen.add(doc.tags[tag]);
  return seen;
};

describe('the Swarm backend (single node)', () => {
  it('workspace → Flow → request → scale → rolling_update → logs → delete leaves no service, network or registry tag', async () => {
    const ws = await createWorkspace(d.url, Object.fromEntries(FILES.map((f) => [f, readFileSync(fixture(f))])));
    assert.equal(ws.item.state, 'ACTIVE', ws.item.reason);
    const repo = `jworkspace-${ws.id.slice(ws.id.indexOf('-') + 1)}`;
    assert.deepEqual(await registry.tags(repo), ['latest'], 'the image is in the registry');
    const net = await docker.engine.getNetwork(ws.id).inspect();
    assert.equal(net.Driver, 'overlay');
    assert.equal(net.Attachable, true);
    assert.equal(net.Labels?.[LABEL.instance], d.instance);

    const port = await freePort();
    const q = new URLSearchParams({ workspace_id: ws.id, filename: 'replicas.yml' });
    for (const e of [`FLOW_PORT=${port}`, 'REPLICAS=1', 'VERSION=old']) q.append('envs', e);
    const created = await api('POST', `/flows?${q}`);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body as string;

    // A service with the object's labels; its item shows the task and the node it runs on.
    const service = await docker.engine.getService(id).inspect();
    assert.equal(service.Spec.Labels[LABEL.kind], 'flow');
    assert.equal(service.Spec.Labels[LABEL.workspace], ws.id);
    assert.equal(service.Spec.TaskTemplate.ContainerSpec.Labels[LABEL.object], id);
    // The restart policy and the limits, in Swarm's words (the default on-failure; the daemon's 2g and 1024 processes).
    assert.equal(service.Spec.TaskTemplate.RestartPolicy.Condition, 'on-failure');
    assert.deepEqual(service.Spec.TaskTemplate.Resources.Limits, { MemoryBytes: 2 * 1024 ** 3, Pids: 1024 });
    assert.equal(service.Spec.UpdateConfig.Order, 'start-first');
    const item = (await api('GET', `/flows/${id}`)).body;
    assert.equal(item.metadata.status, 'running');
    assert.equal(item.metadata.ports[`${port}/tcp`], port);
    assert.equal(item.metadata.tasks.length, 1);
    assert.equal(item.metadata.tasks[0].state, 'running');
    assert.ok(item.metadata.tasks[0].node);

    // Requests, from the workspace's files in the image.
    assert.equal((await index(port, 1)).data.docs[0].tags.version, 'old');
    assert.equal((await api('PUT', `/flows/scale/${id}?pod_name=scalable&replicas=3`)).status, 200);
    assert.deepEqual([...(await distinct(port, 'replica_id'))].sort(), [0, 1, 2]);
    const rolled = await api('PUT', `/flows/rolling_update/${id}?pod_name=scalable`, { version: 'new' });
    assert.equal(rolled.status, 200, JSON.stringify(rolled.body));
    assert.deepEqual([...(await distinct(port, 'version'))], ['new']);

    // Its output reaches the daemon's log files through the receiver, as on one engine.
    assert.match(await untilLog(id, /POST \/index → \/index: 2 docs, ok/), /POST \/index → \/index: 2 docs, ok/);

    assert.equal((await api('DELETE', `/flows/${id}`)).status, 200);
    assert.deepEqual(await services(), []);
    assert.equal((await api('DELETE', `/workspaces/${ws.id}?everything=true`)).status, 200);
    assert.deepEqual(await registry.tags(repo), [], 'its registry tag is deleted');
    assert.equal((await docker.listLabelled({ [LABEL.instance]: d.instance, [LABEL.workspace]: ws.id })).networks.length, 0);
  });

  it('a daemon restart finds its services by their labels: a known Flow keeps running, an unknown service is removed', async () => {
    const ws = await createWorkspace(d.url, Object.fromEntries(FILES.map((f) => [f, readFileSync(fixture(f))])));
    const port = await freePort();
    const q = new URLSearchParams({ workspace_id: ws.id, filename: 'replicas.yml' });
    for (const e of [`FLOW_PORT=${port}`, 'REPLICAS=1', 'VERSION=kept']) q.append('envs', e);
    const id = (await api('POST', `/flows?${q}`)).body as string;
    await d.stop();
    // A service of this instance that no store knows (made while the daemon was away, or left by a crash).
    const stray = 'jpea-00000000-0000-4000-8000-0000000000aa';
    const spec = (await docker.engine.getService(id).inspect()).Spec;
    await docker.engine.createService({ ...spec, Name: stray, Labels: { ...spec.Labels, [LABEL.kind]: 'pea', [LABEL.object]: stray }, EndpointSpec: { Mode: 'dnsrr' } });
    d = await startDaemon({ root: d.root, instance: d.instance, logsPort: d.logsPort, config: { backend: { kind: 'swarm', registry: registry.address } } });
    const item = (await api('GET', `/flows/${id}`)).body;
    assert.equal(item.metadata.status, 'running');
    assert.equal((await index(port, 1)).data.docs[0].tags.version, 'kept');
    assert.deepEqual(await services(), [id]);
    assert.equal((await api('DELETE', `/workspaces/${ws.id}?everything=true`)).status, 200);
    assert.deepEqual(await services(), []);
  });

  it('scale to zero: an idle Flow\'s service has no task running; a request wakes it with the right answer', async () => {
    const ws = await createWorkspace(d.url, Object.fromEntries(FILES.map((f) => [f, readFileSync(fixture(f))])));
    const created = await api('POST', `/flows?workspace_id=${ws.id}&filename=seq.yml&idle_timeout=1`);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body as string;
    const port = (await api('GET', `/flows/${id}`)).body.metadata.ports['8080/tcp'];
    const idle = await untilItem(d.url, `/flows/${id}`, (i) => i.metadata.status === 'idle', 30_000);
    assert.equal(idle.metadata.status, 'idle');
    assert.equal((await docker.engine.getService(id).inspect()).Spec.Mode.Replicated.Replicas, 0);
    const res = await fetch(`http://127.0.0.1:${port}/index`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: [{ text: 'hello' }] }) });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as any).data.docs[0].tags.first, 'one');
    assert.equal((await api('GET', `/flows/${id}`)).body.metadata.wakes, 1);
    assert.equal((await api('DELETE', `/workspaces/${ws.id}?everything=true`)).status, 200);
  });

  it('a Python Flow (a Jina 2 project with requirements.txt) runs as a service: index, then search with cosine matches', async () => {
    const py = (f: string) => readFileSync(fileURLToPath(new URL(`../fixtures/python/${f}`, import.meta.url)));
    const ws = await createWorkspace(d.url, { 'executors.py': py('executors.py'), 'encoder.yml': py('encoder.yml'), 'flow.yml': py('flow.yml'), 'requirements.txt': 'jina\nnumpy\n' });
    assert.equal(ws.item.state, 'ACTIVE', `${ws.item.reason}\n${(ws.item.log_tail ?? []).join('\n')}`);
    const created = await api('POST', `/flows?workspace_id=${ws.id}&filename=flow.yml`);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const port = (await api('GET', `/flows/${created.body}`)).body.metadata.ports['8080/tcp'];
    await index(port, 3);
    const res = await fetch(`http://127.0.0.1:${port}/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: [{ text: 'doc 1' }] }) });
    const matches = ((await res.json()) as any).data.docs[0].matches;
    assert.equal(matches.length, 3);
    assert.ok(matches[0].scores.cosine.value < 1e-6, JSON.stringify(matches[0]));
    assert.equal(matches[0].text, 'doc 1');
    assert.equal((await api('DELETE', `/workspaces/${ws.id}?everything=true`)).status, 200);
  });

  it('a registry nobody answers at: start-up is refused saying so', async () => {
    const backend = createSwarmBackend({ publishHost: '127.0.0.1', root: d.root, baseImage: { strategy: 'build' }, publishMode: 'host', encrypted: false, registry: `127.0.0.1:${await freePort()}` });
    await assert.rejects(backend.ping(), /cannot reach the registry at 127\.0\.0\.1:\d+[\s\S]*backend\.registry \/ JINAD_REGISTRY/);
  });

  it('a constraint no node satisfies: 4xx-free failure with Swarm\'s own words, nothing left', async () => {
    const ws = await createWorkspace(d.url, Object.fromEntries(FILES.map((f) => [f, readFileSync(fixture(f))])));
    const r = await api('POST', `/flows?workspace_id=${ws.id}&filename=seq.yml&constraints=node.labels.gpu==true`);
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.match(JSON.stringify(r.body), /no suitable node/);
    assert.deepEqual(await services(), []);
    const bad = await api('POST', `/flows?workspace_id=${ws.id}&filename=seq.yml&constraints=gpu`);
    assert.equal(bad.status, 422);
    assert.match(JSON.stringify(bad.body), /not a placement constraint/);
    await api('DELETE', `/workspaces/${ws.id}?everything=true`);
  });
});
