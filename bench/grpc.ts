/**
 * The gRPC gateway against the HTTP gateway, same run: a Flow of one no-op executor (noop.yml),
 * run by the runtime locally (no Docker), 1,000 requests of 10 documents each, 8 in flight:
 * documents per second and the median time per request. gRPC: one Call stream carrying the 8
 * requests in flight (as Jina's client does); HTTP: 8 keep-alive connections posting /index.
 * Rounds alternate which goes first.
 *   node --import tsx bench/grpc.ts [requests] [rounds]
 */
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Flow, loadFlow } from '../src/runtime/index.ts';
import { median, table } from './lib.ts';

const N = Number(process.argv[2] ?? 1000);
const ROUNDS = Number(process.argv[3] ?? 5);
const IN_FLIGHT = 8;
const DOCS = 10;
const fixture = fileURLToPath(new URL('../test/fixtures/runtime/noop.yml', import.meta.url));
const PROTO = fileURLToPath(new URL('../src/runtime/jina.proto', import.meta.url));

const spec = loadFlow(fixture);
const httpFlow = await new Flow({ ...spec, protocol: 'http' }, { host: '127.0.0.1' }).start();
const grpcFlow = await new Flow({ ...spec, protocol: 'grpc' }, { host: '127.0.0.1' }).start();

interface Result {
  docsPerSecond: number;
  p50: number;
}

async function viaHttp(): Promise<Result> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  const body = JSON.stringify({ data: Array.from({ length: DOCS }, (_, i) => ({ text: `doc ${i}` })) });
  const one = () =>
    new Promise<number>((resolve, reject) => {
      const t0 = performance.now();
      const r = http.request({ agent, host: '127.0.0.1', port: httpFlow.port, path: '/index', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', () => resolve(performance.now() - t0));
      });
      r.on('error', reject);
      r.end(body);
    });
  let left = N;
  const times: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (left-- > 0) times.push(await one());
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  return { docsPerSecond: (N * DOCS) / seconds, p50: median(times) };
}

const def = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, enums: Number, oneofs: true });
const JinaRPC = (grpc.loadPackageDefinition(def).jina as any).JinaRPC;
async function viaGrpc(): Promise<Result> {
  const client = new JinaRPC(`127.0.0.1:${grpcFlow.port}`, grpc.credentials.createInsecure());
  const call = client.Call();
  const docs = Array.from({ length: DOCS }, (_, i) => ({ text: `doc ${i}` }));
  const sent = new Map<string, number>();
  const times: number[] = [];
  let next = 0;
  const send = () => {
    const id = `r${next++}`;
    sent.set(id, performance.now());
    call.write({ request_id: id, header: { exec_endpoint: '/index' }, data: { docs } });
  };
  const t0 = performance.now();
  const done = new Promise<void>((resolve, reject) => {
    call.on('data', (r: { request_id: string }) => {
      times.push(performance.now() - sent.get(r.request_id)!);
      if (next < N) send();
      else if (times.length === N) call.end();
    });
    call.on('end', resolve);
    call.on('error', reject);
  });
  for (let i = 0; i < IN_FLIGHT; i++) send();
  await done;
  const seconds = (performance.now() - t0) / 1000;
  client.close();
  return { docsPerSecond: (N * DOCS) / seconds, p50: median(times) };
}

try {
  await viaHttp(); // warm both
  await viaGrpc();
  const rows: (string | number)[][] = [['round', 'gRPC docs/s', 'p50 ms', 'HTTP docs/s', 'p50 ms', 'docs/s gRPC / HTTP']];
  const g: Result[] = [];
  const h: Result[] = [];
  for (let i = 1; i <= ROUNDS; i++) {
    if (i % 2) {
      g.push(await viaGrpc());
      h.push(await viaHttp());
    } else {
      h.push(await viaHttp());
      g.push(await viaGrpc());
    }
    rows.push([i, g.at(-1)!.docsPerSecond.toFixed(0), g.at(-1)!.p50.toFixed(2), h.at(-1)!.docsPerSecond.toFixed(0), h.at(-1)!.p50.toFixed(2), (g.at(-1)!.docsPerSecond / h.at(-1)!.docsPerSecond).toFixed(2)]);
  }
  console.log(`${N} requests of ${DOCS} docs, ${IN_FLIGHT} in flight, one no-op executor, ${ROUNDS} rounds\n`);
  console.log(table(rows));
  const med = (xs: Result[], k: keyof Result) => median(xs.map((x) => x[k]));
  console.log(`\nmedian: gRPC ${med(g, 'docsPerSecond').toFixed(0)} docs/s, p50 ${med(g, 'p50').toFixed(2)} ms; HTTP ${med(h, 'docsPerSecond').toFixed(0)} docs/s, p50 ${med(h, 'p50').toFixed(2)} ms`);
} finally {
  await grpcFlow.close();
  await httpFlow.close();
}
