/**
 * Documents per second through gateway → one no-op executor (1,000 requests of 10 small docs
 * over reused connections) against calling the same handler in-process, same run; and the
 * latency each hop adds (client → Pea directly is one hop; client → gateway → Pea is two).
 *   node --import ./src/runtime/bootstrap.mjs bench/runtime-throughput.ts [requests] [concurrency]
 */
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { loadFlow } from '../src/runtime/config.ts';
import { DocumentArray } from '../src/runtime/document.ts';
import { handlerFor } from '../src/runtime/executor.ts';
import { Flow } from '../src/runtime/flow.ts';
import { loadExecutor } from '../src/runtime/loader.ts';
import { newRequest } from '../src/runtime/protocol.ts';
import { median, percentile, postJson as postJsonWith, table } from './lib.ts';

const N = Number(process.argv[2] ?? 1000);
const CONCURRENCY = Number(process.argv[3] ?? 8);
const DOCS = 10;
const fixture = fileURLToPath(new URL('../test/fixtures/runtime/noop.yml', import.meta.url));
const docs = () => Array.from({ length: DOCS }, (_, i) => ({ text: `document number ${i}`, tags: { i } }));
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

const postJson = (port: number, path: string, body: unknown) => postJsonWith(agent, port, path, body);

/** Sequential latencies (ms) and concurrent throughput (docs/s) of one way of calling. */
async function measure(call: () => Promise<unknown>) {
  for (let i = 0; i < 100; i++) await call(); // warm-up
  const lat: number[] = [];
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    await call();
    lat.push(performance.now() - t0);
  }
  let left = N;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (left-- > 0) await call();
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  return { p50: median(lat), p99: percentile(lat, 99), docsPerSec: (N * DOCS) / secs };
}

const spec = loadFlow(fixture);
const executor = await loadExecutor(spec.executors[0]!, { name: 'noop', workspace: process.cwd(), replicaId: 0, replicas: 1 });
const handler = handlerFor(executor, '/index')!;
// In-process: the same work a Pea does per request (documents in, handler, documents out), no network.
const inProcess = await measure(async () => {
  const da = DocumentArray.from(JSON.parse(JSON.stringify(docs())));
  await handler({ docs: da, parameters: {}, endpoint: '/index' });
  return JSON.stringify(da.toJSON());
});

const flow = await new Flow(spec, { host: '127.0.0.1' }).start();
try {
  const pea = flow.pods.get('noop')!;
  const peaPort = (pea as unknown as { replicas: { port: number }[] }).replicas[0]!.port;
  const direct = await measure(() => postJson(peaPort, '/', newRequest({ endpoint: '/index', docs: docs() })));
  const viaGateway = await measure(() => postJson(flow.port!, '/index', { data: docs() }));
  const row = (name: string, m: typeof inProcess) => [name, m.docsPerSec.toFixed(0), m.p50.toFixed(3), m.p99.toFixed(3)];
  console.log(`${N} requests of ${DOCS} docs; latency sequential, throughput with ${CONCURRENCY} in flight over keep-alive connections\n`);
  console.log(
    table([
      ['', 'docs/s', 'p50 ms', 'p99 ms'],
      row('handler in-process', inProcess),
      row('client → Pea (1 hop)', direct),
      row('client → gateway → Pea (2 hops)', viaGateway),
    ]),
  );
  console.log(`\nthroughput ratio gateway / in-process: ${(viaGateway.docsPerSec / inProcess.docsPerSec).toFixed(3)}`);
  console.log(`latency added per hop: p50 ${((viaGateway.p50 - inProcess.p50) / 2).toFixed(3)} ms, p99 ${((viaGateway.p99 - inProcess.p99) / 2).toFixed(3)} ms`);
  console.log(`  (the Pea hop alone: p50 ${(direct.p50 - inProcess.p50).toFixed(3)} ms; the gateway hop: p50 ${(viaGateway.p50 - direct.p50).toFixed(3)} ms)`);
} finally {
  await flow.close();
  agent.destroy();
}
