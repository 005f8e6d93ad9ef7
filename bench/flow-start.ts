/**
 * Flows in containers, measured in one run:
 *  1. POST /flows → gateway answers, against `docker run` of the same image with the same
 *     command and the same readiness steps done by hand (partial daemon up, POST /flow, gateway
 *     up). Target: the daemon adds ≤ 150 ms.
 *  2. 20 Flows started concurrently in one workspace: total time, per-Flow median, daemon memory.
 *  3. Documents per second through a Flow's published gateway, against the same Flow run by the
 *     runtime locally without Docker.
 *   node --import ./src/runtime/bootstrap.mjs bench/flow-start.ts [iterations] [concurrent]
 */
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFlow } from '../src/runtime/config.ts';
import { Flow } from '../src/runtime/flow.ts';
import { filesForm, waitForState } from '../test/helpers.ts';
import { benchDaemon, median, table } from './lib.ts';

const N = Number(process.argv[2] ?? 8);
const CONCURRENT = Number(process.argv[3] ?? 20);
const fixtures = fileURLToPath(new URL('../test/fixtures/runtime/', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(url: string, init?: RequestInit): Promise<Response> {
  for (;;) {
    try {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) });
      if (res.ok || res.status === 201) return res;
    } catch {
      // not up yet
    }
    await sleep(20);
  }
}

const daemon = await benchDaemon();
const byHand: string[] = [];
try {
  const res = await fetch(`${daemon.url}/workspaces`, { method: 'POST', body: filesForm({ 'executors.ts': readFileSync(path.join(fixtures, 'executors.ts')), 'noop.yml': readFileSync(path.join(fixtures, 'noop.yml')) }) });
  const ws = Object.keys((await res.json()) as object)[0]!;
  const item = await waitForState(daemon.url, ws, ['ACTIVE']);
  const image = item.metadata.image_name as string;
  const post = (filename: string) => fetch(`${daemon.url}/flows?workspace_id=${ws}&filename=${filename}`, { method: 'POST' }).then(async (r) => [r.status, await r.json()] as const);
  const gatewayOf = async (id: string) => {
    const it = (await (await fetch(`${daemon.url}/flows/${id}`)).json()) as { metadata: { ports: Record<string, number> } };
    return it.metadata.ports['8080/tcp']!;
  };

  async function viaDaemon(): Promise<number> {
    const t0 = performance.now();
    const [status, id] = await post('noop.yml');
    if (status !== 201) throw new Error(JSON.stringify(id));
    await until(`http://127.0.0.1:${await gatewayOf(id as string)}/`);
    const ms = performance.now() - t0;
    await fetch(`${daemon.url}/flows/${id}`, { method: 'DELETE' });
    return ms;
  }
  async function viaDockerRun(): Promise<number> {
    const name = `jinad-bench-flow-${byHand.length}`;
    byHand.push(name);
    const t0 = performance.now();
    execFileSync('docker', ['run', '-d', '--init', '--name', name, '--label', 'io.jinad.kind=bench', '--network', ws, '-v', `${path.join(daemon.root, ws)}:/workspace`, '-w', '/workspace',
      '-p', '127.0.0.1::8000', '-p', '127.0.0.1::8080', '--entrypoint', 'node', image, '/opt/jinad/runtime/bin.mjs', 'partial', '--mode', 'flow', '--port', '8000', '--workspace', '/workspace'], { stdio: 'pipe' });
    const portOf = (p: number) => Number(execFileSync('docker', ['port', name, String(p)]).toString().split('\n')[0]!.split(':').pop());
    const partial = portOf(8000);
    const gateway = portOf(8080);
    await until(`http://127.0.0.1:${partial}/`);
    await until(`http://127.0.0.1:${partial}/flow`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ flow: { uses: 'noop.yml', port_expose: 8080 }, envs: {} }) });
    await until(`http://127.0.0.1:${gateway}/`);
    const ms = performance.now() - t0;
    execFileSync('docker', ['rm', '-f', name], { stdio: 'pipe' });
    return ms;
  }

  await viaDaemon();
  await viaDockerRun();
  const d: number[] = [];
  const h: number[] = [];
  for (let i = 0; i < N; i++) {
    d.push(await viaDaemon());
    h.push(await viaDockerRun());
  }
  console.log(`1. Flow start → gateway answers (one no-op executor), ${N} iterations each, interleaved\n`);
  console.log(table([['', 'median ms', 'min', 'max'], ['POST /flows', median(d).toFixed(0), Math.min(...d).toFixed(0), Math.max(...d).toFixed(0)], ['docker run + same steps by hand', median(h).toFixed(0), Math.min(...h).toFixed(0), Math.max(...h).toFixed(0)]]));
  console.log(`\ndaemon adds ${(median(d) - median(h)).toFixed(0)} ms at the median (target ≤ 150 ms)\n`);

  // 2. Concurrent starts, sampling the daemon's memory meanwhile.
  const rss: number[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const s = (await (await fetch(`${daemon.url}/status`)).json()) as { memory: { rss: number } };
      rss.push(s.memory.rss);
      await sleep(100);
    }
  })();
  const t0 = performance.now();
  const each = await Promise.all(
    Array.from({ length: CONCURRENT }, async () => {
      const s = performance.now();
      const [status, id] = await post('noop.yml');
      if (status !== 201) throw new Error(JSON.stringify(id));
      return { id: id as string, ms: performance.now() - s };
    }),
  );
  const total = performance.now() - t0;
  sampling = false;
  await sampler;
  console.log(`2. ${CONCURRENT} Flows started concurrently in one workspace`);
  console.log(`   total ${(total / 1000).toFixed(1)} s, per-Flow median ${(median(each.map((e) => e.ms)) / 1000).toFixed(1)} s, daemon RSS peak ${(Math.max(...rss) / 2 ** 20).toFixed(0)} MiB (before: ${(rss[0]! / 2 ** 20).toFixed(0)} MiB)\n`);
  await fetch(`${daemon.url}/flows`, { method: 'DELETE' });

  // 3. Throughput through the published gateway vs the same Flow locally.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const docs = JSON.stringify({ data: Array.from({ length: 10 }, (_, i) => ({ text: `doc ${i}` })) });
  const postDocs = (port: number) =>
    new Promise<void>((resolve, reject) => {
      const r = http.request({ agent, port, host: '127.0.0.1', path: '/index', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(docs) } }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      r.on('error', reject);
      r.end(docs);
    });
  const rate = async (port: number) => {
    for (let i = 0; i < 100; i++) await postDocs(port);
    let left = 1000;
    const s = performance.now();
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (left-- > 0) await postDocs(port);
    }));
    return 10_000 / ((performance.now() - s) / 1000);
  };
  const [, id] = await post('noop.yml');
  const inDocker = await rate(await gatewayOf(id as string));
  const local = await new Flow(loadFlow(path.join(fixtures, 'noop.yml')), { host: '127.0.0.1' }).start();
  const locally = await rate(local.port!);
  await local.close();
  agent.destroy();
  console.log('3. documents per second through the gateway (1,000 requests of 10 docs, 8 in flight)\n');
  console.log(table([['', 'docs/s'], ['Flow in a container, published port', inDocker.toFixed(0)], ['same Flow, runtime locally', locally.toFixed(0)]]));
  console.log(`\nratio container / local: ${(inDocker / locally).toFixed(2)}`);
} finally {
  for (const name of byHand) execFileSync('docker', ['rm', '-f', name], { stdio: 'ignore' });
  await fetch(`${daemon.url}/workspaces`, { method: 'DELETE' });
  await daemon.close();
}
