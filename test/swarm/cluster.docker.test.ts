/**
 * The Swarm backend on a real three-node Swarm made on this machine by scripts/swarm-cluster.sh
 * (three engines in their own network namespaces, a registry): a Pod's three replicas spread
 * over the three nodes and each answers; a node's engine stops and its replica comes back on
 * another node; deleting leaves nothing on any node. Skipped, naming what is missing, where the
 * machine cannot make such a cluster (not root, no VXLAN in the kernel, a tool missing).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encode } from '@msgpack/msgpack';
import Docker from 'dockerode';
import { createSwarmBackend } from '../../src/backend/swarm/index.ts';
import { LABEL } from '../docker.ts';
import { callJson, createWorkspace, freePort, retryFetch, startDaemon, type TestDaemon, untilItem } from '../helpers.ts';

const script = fileURLToPath(new URL('../../scripts/swarm-cluster.sh', import.meta.url));
const fixture = (f: string) => fileURLToPath(new URL(`../fixtures/runtime/${f}`, import.meta.url));
const DIR = `/tmp/jinad-cluster-test-${process.pid}`;

let skip: string | undefined;
let env: Record<string, string> = {};
let d: TestDaemon;
const engines: Docker[] = [];

before(async () => {
  const up = spawnSync(script, ['up', '3'], { env: { ...process.env, JINAD_CLUSTER_DIR: DIR }, encoding: 'utf8', timeout: 180_000 });
  if (up.status !== 0) {
    const why = (up.stderr || up.stdout || '').trim();
    // Missing pieces (not root, no VXLAN, a tool) skip this file naming them; anything else fails it.
    if (/swarm-cluster: (needs|this kernel)/.test(why)) return void (skip = why.replace(/^swarm-cluster: /, ''));
    throw new Error(`the cluster script failed: ${why}`);
  }
  env = Object.fromEntries(readFileSync(`${DIR}/env`, 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  for (let i = 1; i <= 3; i++) engines.push(new Docker({ socketPath: `${DIR}/n${i}/docker.sock` }));
  const hostIp = env.JINAD_CLUSTER_HOST_IP!;
  const logsPort = await freePort();
  d = await startDaemon({
    logsPort,
    config: {
      docker: env.DOCKER_HOST,
      backend: { kind: 'swarm', registry: env.JINAD_REGISTRY!, logAddress: `tcp://${hostIp}:${logsPort}` },
      logs: { host: hostIp },
    },
  });
});
after(async () => {
  await d?.cleanup();
  if (!skip) execFileSync(script, ['down'], { env: { ...process.env, JINAD_CLUSTER_DIR: DIR }, stdio: 'inherit' });
});

const api = (method: string, path: string, body?: unknown) => callJson(d.url, method, path, body);
/** A request to one copy of the Pod, at its node's address and published port: the tags of its answer. */
const send = async (address: string, port: number) => {
  await retryFetch(`http://${address}:${port}/`, 30_000);
  const req = { requestId: 'r', header: { execEndpoint: '/index' }, parameters: {}, routes: [], status: { code: 0, description: '' }, data: { docs: [{ text: 'x' }] } };
  const res = await fetch(`http://${address}:${port}/`, { method: 'POST', body: JSON.stringify(req) });
  return ((await res.json()) as any).data.docs[0].tags as Record<string, unknown>;
};
const BACKEND = { publishHost: '127.0.0.1', root: '/tmp', baseImage: { strategy: 'build' as const }, publishMode: 'host' as const, encrypted: false };
const running = (item: any) => (item.metadata.tasks ?? []).filter((t: any) => t.state === 'running');

describe('the Swarm backend on a three-node cluster', () => {
  it('errors a person can act on: a worker instead of a manager, a node that cannot pull', async (t) => {
    if (skip) return t.skip(`no cluster on this machine: ${skip}`);
    const worker = createSwarmBackend({ ...BACKEND, docker: `unix://${DIR}/n2/docker.sock`, registry: env.JINAD_REGISTRY! });
    await assert.rejects(worker.ping(), /is a Swarm worker: point DOCKER_HOST \/ --docker at a manager/);
    // An image the registry does not have (its tag deleted after the build), on a node that never pulled it.
    const ws = await createWorkspace(d.url, { 'executors.ts': readFileSync(fixture('executors.ts')) });
    const repo = `jworkspace-${ws.id.slice(ws.id.indexOf('-') + 1)}`;
    const head = await fetch(`http://${env.JINAD_REGISTRY}/v2/${repo}/manifests/latest`, { method: 'HEAD', headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
    await fetch(`http://${env.JINAD_REGISTRY}/v2/${repo}/manifests/${head.headers.get('docker-content-digest')}`, { method: 'DELETE' });
    const r = await api('POST', `/peas?workspace_id=${ws.id}&constraints=node.hostname==jinad-node3`, { uses: 'Tagger', py_modules: ['executors.ts'] });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.match(JSON.stringify(r.body), /Swarm could not run .*can every node pull from the registry\?/);
    assert.equal((await api('DELETE', `/workspaces/${ws.id}?everything=true`)).status, 200);
  });

  it('a Pod of 3 replicas spreads over 3 nodes, each answers; a stopped node\'s replica runs again elsewhere; delete leaves nothing', async (t) => {
    if (skip) return t.skip(`no cluster on this machine: ${skip}`);
    const ws = await createWorkspace(d.url, { 'executors.ts': readFileSync(fixture('executors.ts')) });
    assert.equal(ws.item.state, 'ACTIVE', ws.item.reason);

    const t0 = performance.now();
    const r = await api('POST', `/pods?workspace_id=${ws.id}`, { name: 'p', uses: 'ReplicaTagger', py_modules: ['executors.ts'], replicas: 3, uses_with: { version: 'a' } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const id = r.body as string;
    t.diagnostic(`3-replica Pod ready on 3 nodes in ${Math.round(performance.now() - t0)} ms`);
    let item = (await api('GET', `/pods/${id}`)).body;
    let tasks = running(item);
    assert.equal(tasks.length, 3, JSON.stringify(item.metadata.tasks));
    assert.equal(new Set(tasks.map((x: any) => x.node)).size, 3, `spread over 3 nodes: ${tasks.map((x: any) => x.node)}`);
    // Each copy answers at its node's address: three different containers.
    const hosts = new Set<unknown>();
    for (const task of tasks) {
      const tags = await send(task.address, task.ports['8081/tcp']);
      assert.equal(tags.version, 'a');
      hosts.add(tags.host);
    }
    assert.equal(hosts.size, 3);
    // Each copy's output reached the daemon's log receiver on the host's bridge address, from its node.
    const deadline = Date.now() + 20_000;
    let log = '';
    while ((log.match(/partial daemon \(pod\) listening/g) ?? []).length < 3 && Date.now() < deadline) {
      log = await (await fetch(`${d.url}/logs/${id}`)).text();
      await new Promise((res) => setTimeout(res, 200));
    }
    assert.equal((log.match(/partial daemon \(pod\) listening/g) ?? []).length, 3, log.slice(0, 2000));
    // A sender that is not a node (this machine, from the bridge's own address) is refused and writes nothing.
    const tag = `jinad.${ws.id}.${id}`;
    const forged = await new Promise<string>((res) => {
      const s = net.connect({ host: env.JINAD_CLUSTER_HOST_IP!, port: d.logsPort, localAddress: env.JINAD_CLUSTER_HOST_IP! });
      s.on('connect', () => s.write(encode([tag, Date.now() / 1000, { log: 'forged from a non-node', source: 'stdout' }, {}])));
      s.on('close', () => res('closed'));
      s.on('error', (e: NodeJS.ErrnoException) => res(e.code ?? e.message));
    });
    assert.ok(['closed', 'ECONNRESET'].includes(forged), forged);
    assert.doesNotMatch(await (await fetch(`${d.url}/logs/${id}`)).text(), /forged from a non-node/);

    // Scale: the number of copies.
    assert.equal((await api('PUT', `/pods/scale/${id}?replicas=2`)).status, 200);
    assert.equal(running((await api('GET', `/pods/${id}`)).body).length, 2);
    assert.equal((await api('PUT', `/pods/scale/${id}?replicas=3`)).status, 200);
    item = (await api('GET', `/pods/${id}`)).body;
    assert.equal(running(item).length, 3);
    assert.deepEqual(item.arguments.replicas, { p: 3 });

    // A rolling update reaches every copy.
    const rolled = await api('PUT', `/pods/rolling_update/${id}`, { version: 'b' });
    assert.equal(rolled.status, 200, JSON.stringify(rolled.body));
    item = (await api('GET', `/pods/${id}`)).body;
    for (const task of running(item)) assert.equal((await send(task.address, task.ports['8081/tcp'])).version, 'b');

    // A worker's engine stops (the start-first update may have placed two copies on one node: one
    // that runs a copy): its copy is placed on another node and answers.
    const lost = running(item).find((x: any) => x.node !== 'jinad-node1')?.node as string;
    assert.ok(lost, 'a copy runs on a worker');
    const t1 = performance.now();
    process.kill(Number(readFileSync(`${DIR}/n${lost.slice(-1)}/docker.pid`, 'utf8')), 'SIGTERM');
    item = await untilItem(d.url, `/pods/${id}`, (it) => running(it).length === 3 && running(it).every((x: any) => x.node !== lost), 90_000);
    for (const task of running(item)) assert.equal((await send(task.address, task.ports['8081/tcp'])).version, 'b');
    t.diagnostic(`after ${lost}'s engine stopped, 3 copies answered again in ${Math.round(performance.now() - t1)} ms`);

    // Delete: nothing of this daemon on the nodes still up, nor in the registry.
    assert.equal((await api('DELETE', `/pods/${id}`)).status, 200);
    assert.equal((await api('DELETE', `/workspaces/${ws.id}?everything=true`)).status, 200);
    const mine = JSON.stringify({ label: [`${LABEL.instance}=${d.instance}`] });
    assert.deepEqual(await engines[0]!.listServices({ filters: mine }), []);
    for (const engine of engines.filter((_, i) => `jinad-node${i + 1}` !== lost)) {
      const deadline = Date.now() + 20_000;
      // A worker's containers and its copy of the overlay network go a moment after the service.
      const left = async () => (await engine.listContainers({ all: true, filters: mine })).length + (await engine.listNetworks({ filters: mine })).length;
      while ((await left()) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 200));
      assert.deepEqual(await engine.listContainers({ all: true, filters: mine }), []);
      assert.deepEqual((await engine.listNetworks({ filters: mine })).map((n) => n.Name), []);
    }
    const repo = `jworkspace-${ws.id.slice(ws.id.indexOf('-') + 1)}`;
    const tags = (await (await fetch(`http://${env.JINAD_REGISTRY}/v2/${repo}/tags/list`)).json()) as { tags?: string[] | null };
    assert.deepEqual(tags.tags ?? [], []);
  });

  it('an engine that is not in a Swarm is refused with the command that makes one', async (t) => {
    if (skip) return t.skip(`no cluster on this machine: ${skip}`);
    // A worker still up leaves the Swarm; a daemon pointed at it is told how to make one.
    const up = [2, 3].find((i) => spawnSync('docker', ['-H', `unix://${DIR}/n${i}/docker.sock`, 'version']).status === 0)!;
    execFileSync('docker', ['-H', `unix://${DIR}/n${up}/docker.sock`, 'swarm', 'leave', '--force']);
    const alone = createSwarmBackend({ ...BACKEND, docker: `unix://${DIR}/n${up}/docker.sock`, registry: env.JINAD_REGISTRY! });
    await assert.rejects(alone.ping(), /is not part of a Swarm[\s\S]*docker swarm init --advertise-addr/);
  });
});
