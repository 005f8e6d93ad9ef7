/**
 * The Swarm backend, measured in one run:
 *  1. Flow start on a single-node Swarm against the Docker backend, same engine, same workspace
 *     files, rounds interleaved: POST /flows until the gateway answers a document request.
 *  2. On a three-node cluster made by scripts/swarm-cluster.sh: a Pod of 3 replicas, POST until
 *     every copy answers at its node (rounds); then the recovery after a worker's engine stops:
 *     until three copies run again, none on that node, and each answers.
 *   node --import ./src/runtime/bootstrap.mjs bench/swarm.ts [rounds]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { filesForm, waitForState } from '../test/helpers.ts';
import { ensureSwarm, startRegistry } from '../test/swarm/helpers.ts';
import { type BenchDaemon, benchDaemon, median, REPO, table } from './lib.ts';

const ROUNDS = Number(process.argv[2] ?? 5);
const fixtures = fileURLToPath(new URL('../test/fixtures/runtime/', import.meta.url));
const FILES = () => ({ 'executors.ts': readFileSync(path.join(fixtures, 'executors.ts')), 'flow.yml': 'jtype: Flow\nexecutors:\n  - name: tag\n    uses: Tagger\n    py_modules: [executors.ts]\n' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const json = async (res: Response) => (await res.json()) as any;
const DATA_REQUEST = JSON.stringify({ requestId: 'r', header: { execEndpoint: '/index' }, parameters: {}, routes: [], status: { code: 0, description: '' }, data: { docs: [{ text: 'x' }] } });

async function until(url: string, init?: RequestInit): Promise<void> {
  for (;;) {
    if (await fetch(url, { ...init, signal: AbortSignal.timeout(5000) }).then((r) => r.ok, () => false)) return;
    await sleep(10);
  }
}
async function workspace(d: BenchDaemon): Promise<string> {
  const ws = Object.keys(await json(await fetch(`${d.url}/workspaces`, { method: 'POST', body: filesForm(FILES()) })))[0]!;
  const item = await waitForState(d.url, ws, ['ACTIVE', 'FAILED'], 600_000);
  if (item.state !== 'ACTIVE') throw new Error(`workspace failed: ${item.reason}`);
  return ws;
}
/** POST /flows until its gateway answers a document request; ms. */
async function flowStart(d: BenchDaemon, ws: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${d.url}/flows?workspace_id=${ws}&filename=flow.yml`, { method: 'POST' });
  const id = await json(res);
  if (res.status !== 201) throw new Error(JSON.stringify(id));
  const item = await json(await fetch(`${d.url}/flows/${id}`));
  await until(`http://${item.metadata.tasks?.[0]?.address || '127.0.0.1'}:${item.metadata.ports['8080/tcp']}/index`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: [{ text: 'x' }] }) });
  const ms = performance.now() - t0;
  await fetch(`${d.url}/flows/${id}`, { method: 'DELETE' });
  return ms;
}
const running = (item: any) => (item.metadata.tasks ?? []).filter((t: any) => t.state === 'running');
const everyCopyAnswers = async (item: any) => {
  for (const t of running(item)) await until(`http://${t.address}:${t.ports['8081/tcp']}/`, { method: 'POST', body: DATA_REQUEST });
};

// 1. Single node: the Docker backend and the Swarm backend on the same engine.
const swarm = await ensureSwarm();
const registry = await startRegistry();
const onDocker = await benchDaemon();
const onSwarm = await benchDaemon({ JINAD_BACKEND: 'swarm', JINAD_REGISTRY: registry.address });
const single: { docker: number[]; swarm: number[] } = { docker: [], swarm: [] };
try {
  const [wsDocker, wsSwarm] = [await workspace(onDocker), await workspace(onSwarm)];
  await flowStart(onDocker, wsDocker); // warm: first pulls, first loads
  await flowStart(onSwarm, wsSwarm);
  for (let i = 0; i < ROUNDS; i++) {
    single.docker.push(await flowStart(onDocker, wsDocker));
    single.swarm.push(await flowStart(onSwarm, wsSwarm));
  }
} finally {
  await onDocker.close();
  await onSwarm.close();
  await registry.stop();
  await swarm.leave();
}
console.log(`\n1. Flow start (POST /flows → first answer), single-node Swarm vs the Docker backend, ${ROUNDS} interleaved rounds`);
console.log(
  table([
    ['backend', 'median ms', 'min ms', 'max ms'],
    ['docker', median(single.docker).toFixed(0), Math.min(...single.docker).toFixed(0), Math.max(...single.docker).toFixed(0)],
    ['swarm', median(single.swarm).toFixed(0), Math.min(...single.swarm).toFixed(0), Math.max(...single.swarm).toFixed(0)],
  ]),
);
console.log(`swarm / docker (median): ${(median(single.swarm) / median(single.docker)).toFixed(2)}`);

// 2. Three nodes.
const script = path.join(REPO, 'scripts/swarm-cluster.sh');
const DIR = `/tmp/jinad-cluster-bench-${process.pid}`;
const clusterEnv = { ...process.env, JINAD_CLUSTER_DIR: DIR };
const up = spawnSync(script, ['up', '3'], { env: clusterEnv, encoding: 'utf8' });
if (up.status !== 0) {
  console.log(`\n2. no three-node cluster on this machine: ${up.stderr.trim()}`);
  process.exit(0);
}
const env = Object.fromEntries(readFileSync(`${DIR}/env`, 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
const logsPort = String(24_000 + (process.pid % 1000));
const d = await benchDaemon({
  DOCKER_HOST: env.DOCKER_HOST!,
  JINAD_BACKEND: 'swarm',
  JINAD_REGISTRY: env.JINAD_REGISTRY!,
  JINAD_LOGS_HOST: env.JINAD_CLUSTER_HOST_IP!,
  JINAD_LOGS_PORT: logsPort,
  JINAD_SWARM_LOG_ADDRESS: `tcp://${env.JINAD_CLUSTER_HOST_IP}:${logsPort}`,
});
const ready: number[] = [];
let recovery = NaN;
let firstPod = NaN;
try {
  const ws = await workspace(d);
  const pod = async () => {
    const t0 = performance.now();
    const res = await fetch(`${d.url}/pods?workspace_id=${ws}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'p', uses: 'ReplicaTagger', py_modules: ['executors.ts'], replicas: 3 }) });
    const id = await json(res);
    if (res.status !== 201) throw new Error(JSON.stringify(id));
    const item = await json(await fetch(`${d.url}/pods/${id}`));
    await everyCopyAnswers(item);
    return { id: id as string, ms: performance.now() - t0, item };
  };
  const first = await pod(); // the nodes pull the image here
  firstPod = first.ms;
  await fetch(`${d.url}/pods/${first.id}`, { method: 'DELETE' });
  for (let i = 0; i < ROUNDS; i++) {
    const p = await pod();
    ready.push(p.ms);
    await fetch(`${d.url}/pods/${p.id}`, { method: 'DELETE' });
  }
  const p = await pod();
  const lost = running(p.item).find((t: any) => t.node !== 'jinad-node1').node as string;
  const t0 = performance.now();
  process.kill(Number(readFileSync(`${DIR}/n${lost.slice(-1)}/docker.pid`, 'utf8')), 'SIGTERM');
  for (;;) {
    const item = await json(await fetch(`${d.url}/pods/${p.id}`));
    if (running(item).length === 3 && running(item).every((t: any) => t.node !== lost)) {
      await everyCopyAnswers(item);
      break;
    }
    await sleep(100);
  }
  recovery = performance.now() - t0;
} finally {
  await d.close();
  execFileSync(script, ['down'], { env: clusterEnv, stdio: 'inherit' });
}
console.log(`\n2. Three-node cluster (3 engines in network namespaces, one manager, dispatcher heartbeat 1 s, registry on the bridge)`);
console.log(
  table([
    ['measure', 'ms'],
    ['3-replica Pod, first (nodes pull the image)', firstPod.toFixed(0)],
    [`3-replica Pod ready, every copy answering (median of ${ROUNDS})`, median(ready).toFixed(0)],
    ['  min / max', `${Math.min(...ready).toFixed(0)} / ${Math.max(...ready).toFixed(0)}`],
    ["recovery after a worker's engine stopped (3 copies answering again)", recovery.toFixed(0)],
  ]),
);
