/**
 * Python Executors against TypeScript ones, side by side in one run:
 *  1. docs/s through the gateway: a no-op Python Executor vs the same no-op in TypeScript
 *     (one executor, 10 small docs per request, 8 in flight);
 *  2. the Python boundary's own cost per request at 1 doc/request: what a Pea does with its
 *     head's frame, relayed to its Python worker (PythonExecutor.relay) vs decoded, the
 *     TypeScript handler called in the Pea's process and encoded again;
 *  3. 1,000 docs with 768-dim float32 embeddings crossing the boundary in (an Executor reads
 *     them), out (an encoder sets them) and both ways, each vs its floor: the same bytes through
 *     the same kind of pipe to a Python process that reads each frame whole and answers. The Pea's
 *     side is timed from its head's frame (a body read whole) to its answer's parts;
 *  4. cold start: Flow start → first answer, Python vs TypeScript, in the runtime and (with
 *     `--containers`) as Flows of a daemon on the Docker Engine (POST /flows → first answer).
 *   JINAD_PYTHON=/usr/bin/python3 node --import ./src/runtime/bootstrap.mjs bench/python.ts [requests] [--containers]
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { Encoder } from '@msgpack/msgpack';
import { loadFlow } from '../src/runtime/config.ts';
import { DocumentArray } from '../src/runtime/document.ts';
import { handlerFor } from '../src/runtime/executor.ts';
import { Flow } from '../src/runtime/flow.ts';
import { loadExecutor } from '../src/runtime/loader.ts';
import { decodeFrame, encodeFrame, frameParts, newRequest, readFrame } from '../src/runtime/protocol.ts';
import { PythonExecutor, WORKER_MALLOC } from '../src/runtime/python.ts';
import { readFileSync } from 'node:fs';
import { filesForm, waitForState } from '../test/helpers.ts';
import { benchDaemon, median, postJson as postJsonWith, table } from './lib.ts';

process.env.JINAD_PYTHON ??= '/usr/bin/python3';
const N = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 2000);
const CONTAINERS = process.argv.includes('--containers');
const CONCURRENCY = 8;
const TS_FLOW = fileURLToPath(new URL('../test/fixtures/runtime/noop.yml', import.meta.url));
const PY_FLOW = fileURLToPath(new URL('../test/fixtures/python/noop.yml', import.meta.url));
const PY_DIR = fileURLToPath(new URL('../test/fixtures/python', import.meta.url));
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
const small = (n: number) => Array.from({ length: n }, (_, i) => ({ text: `document number ${i}`, tags: { i } }));

const postJson = (port: number, path: string, body: unknown) => postJsonWith(agent, port, path, body);

async function throughput(port: number): Promise<number> {
  for (let i = 0; i < 200; i++) await postJson(port, '/index', { data: small(10) });
  let left = N;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => { while (left-- > 0) await postJson(port, '/index', { data: small(10) }); }));
  return (N * 10) / ((performance.now() - t0) / 1000);
}

async function latencies(call: () => Promise<unknown>, n: number): Promise<number[]> {
  for (let i = 0; i < 200; i++) await call();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await call();
    out.push(performance.now() - t0);
  }
  return out;
}

/** Cold start: construct and start the Flow, then the first answer. */
async function coldStart(file: string): Promise<number> {
  const t0 = performance.now();
  const flow = await new Flow(loadFlow(file), { host: '127.0.0.1' }).start();
  await postJson(flow.port!, '/index', { data: small(1) });
  const ms = performance.now() - t0;
  await flow.close();
  return ms;
}

// 1. Through the gateway.
const tsFlow = await new Flow(loadFlow(TS_FLOW), { host: '127.0.0.1' }).start();
const pyFlow = await new Flow(loadFlow(PY_FLOW), { host: '127.0.0.1' }).start();
const tsRate = await throughput(tsFlow.port!);
const pyRate = await throughput(pyFlow.port!);
await tsFlow.close();
await pyFlow.close();

// 2. The boundary at 1 doc/request: in the Pea's process, TypeScript handler vs Python worker.
const tsSpec = loadFlow(TS_FLOW).executors[0]!;
const pySpec = loadFlow(PY_FLOW).executors[0]!;
const metas = { name: 'noop', workspace: PY_DIR, replicaId: 0, replicas: 1 };
const tsExec = await loadExecutor(tsSpec, metas);
const handler = handlerFor(tsExec, '/index')!;
const py = await PythonExecutor.start(pySpec, metas, 'noop');
/** A request as its Pea's head sends it: the frame's body. */
const body = (docs: object[], endpoint = '/index') => Buffer.concat(encodeFrame(newRequest({ endpoint, docs: docs as any })));
const tsLat = await latencies(async () => {
  const req = decodeFrame(body(small(1)));
  const docs = DocumentArray.from(req.data.docs);
  await handler({ docs, parameters: {}, endpoint: '/index' });
  req.data.docs = docs.toJSON();
  encodeFrame(req);
}, N);
const pyLat = await latencies(async () => frameParts(await py.relay(readFrame(body(small(1))))), N);

// 3. 768-dim float32 × 1,000 docs across the boundary, each way, against the same bytes through the same kind of pipe.
const DIM = 768;
const vec = Buffer.alloc(DIM * 4);
for (let i = 0; i < DIM; i++) vec.writeFloatLE(Math.sin(i), i * 4);
const matrix = Buffer.concat(Array.from({ length: 1000 }, () => vec));
// As the Pea holds them: bytes (from its head's frame), or the base64 a JSON hop gives (a remote Executor's).
const bigDocs = (b64 = false) => Array.from({ length: 1000 }, (_, i) => ({ id: `d${i}`, embedding: { dense: { buffer: b64 ? vec.toString('base64') : matrix.subarray(i * DIM * 4, (i + 1) * DIM * 4), shape: [DIM], dtype: '<f4' } } }));
const textDocs = () => Array.from({ length: 1000 }, (_, i) => ({ id: `d${i}`, text: `document number ${i}` }));
const withClass = (className: string) => ({ ...pySpec, uses: { ...(pySpec.uses as any), className } });
const reader = await PythonExecutor.start(withClass('ReadEmbeddings'), metas, 'read');
const setter = await PythonExecutor.start(withClass('SetEmbeddings'), metas, 'set');

// The floors: a Python process (with the worker's malloc settings) that reads each frame whole,
// then answers by the frame's first byte: 0 a frame of 8 bytes, 1 the frame itself, 2 a frame of
// the tensors' size made once, 3 a frame of 8 bytes after the reader's own work on the bytes (the
// matrix copied, as docs.embeddings gives it, and summed), 4 the frame itself after the same copy
// (what `docs.embeddings = docs.embeddings` does itself). Each sends what its case sends: 1,000
// documents' header and their tensors, or 1,000 texts.
const pack = (x: unknown) => new Encoder().encode(x);
const header = pack({ t: 'req', id: 1, endpoint: '/index', parameters: {}, docs: { docs: pack(bigDocs().map((d) => ({ id: d.id }))), cols: { embedding: { blob: 0, shape: [DIM], dtype: '<f4' } } } });
const textHeader = pack({ t: 'req', id: 1, endpoint: '/index', parameters: {}, docs: { docs: pack(textDocs()) } });
const echo = spawn(process.env.JINAD_PYTHON!, ['-c', `import os, struct, numpy
i, o = os.fdopen(3, 'rb'), os.fdopen(4, 'wb')
big = bytes(${header.byteLength + matrix.byteLength})
while True:
    h = i.read(4)
    if len(h) < 4: break
    body = i.read(struct.unpack('<I', h)[0])
    if body[0] >= 3:
        m = numpy.frombuffer(body, dtype='<f4', offset=${1 + header.byteLength}).reshape(1000, ${DIM}).copy()
        total = float(m.sum()) if body[0] == 3 else 0
    answer = (bytes(8), body, big, bytes(8), body)[body[0]]
    o.write(struct.pack('<I', len(answer))); o.write(answer); o.flush()
    body = answer = None`], { stdio: ['ignore', 'inherit', 'inherit', 'pipe', 'pipe'], env: { ...process.env, ...WORKER_MALLOC } });
const out = echo.stdio[4] as NodeJS.ReadableStream;
const inp = echo.stdio[3] as NodeJS.WritableStream;
// Each floor's frame, made once: its bytes are what crosses, not what is timed making.
const floorBodies = ([0, 1, 2, 3, 4] as const).map((mode) => {
  const body = Buffer.concat(mode === 2 ? [Buffer.from([2]), textHeader] : [Buffer.from([mode]), header, matrix]);
  const head = Buffer.alloc(4);
  head.writeUInt32LE(body.byteLength);
  const answer = 4 + (mode === 0 || mode === 3 ? 8 : mode === 2 ? header.byteLength + matrix.byteLength : body.byteLength);
  return { head, body, answer };
});
const floor = (mode: 0 | 1 | 2 | 3 | 4) =>
  new Promise<void>((resolve) => {
    const { head, body, answer } = floorBodies[mode]!;
    let got = 0;
    const onData = (c: Buffer) => {
      if ((got += c.length) >= answer) {
        out.off('data', onData);
        resolve();
      }
    };
    out.on('data', onData);
    inp.write(head);
    inp.write(body);
  });
const rows = {
  floorIn: [] as number[], floorRead: [] as number[], readIn: [] as number[], noopIn: [] as number[], readIn64: [] as number[],
  floorOut: [] as number[], setOut: [] as number[],
  floorBoth: [] as number[], floorCopyBoth: [] as number[], setBoth: [] as number[],
  b64: [] as number[],
};
const b64Scratch = Buffer.allocUnsafe(DIM * 4 * 1000);
// The frames as their heads send them, made once as the floors' are (reading one does not change it).
const [bigBody, textBody, againBody] = [body(bigDocs()), body(textDocs()), body(bigDocs(), '/again')];
const relayed = (py: PythonExecutor) => async (frame: Buffer) => frameParts(await py.relay(readFrame(frame)));
/** A case ten times in a row (a worker that has slept since the last round wakes slowly: the floor's as much as ours). */
const timed = async (into: number[], make: () => unknown, fn: (made: any) => Promise<unknown>) => {
  for (let i = 0; i < 10; i++) {
    const made = make(); // the documents are made outside the timing, as a request brings them
    const t0 = performance.now();
    await fn(made);
    into.push(performance.now() - t0);
  }
};
const req = (docs: object[]) => newRequest({ endpoint: '/index', docs: docs as any });
// Rounds of the cases in turn, so the machine's moods fall on all alike.
for (let round = 0; round < 22; round++) {
  await timed(rows.floorIn, () => null, () => floor(0));
  await timed(rows.floorRead, () => null, () => floor(3));
  await timed(rows.readIn, () => bigBody, relayed(reader));
  await timed(rows.noopIn, () => bigBody, relayed(py));
  await timed(rows.readIn64, () => req(bigDocs(true)), (r) => reader.process(r));
  await timed(rows.floorOut, () => null, () => floor(2));
  await timed(rows.setOut, () => textBody, relayed(setter));
  await timed(rows.floorBoth, () => null, () => floor(1));
  await timed(rows.floorCopyBoth, () => null, () => floor(4));
  await timed(rows.setBoth, () => againBody, relayed(setter));
  // The JSON hops' share, alone: base64 → bytes going in, bytes → base64 coming out.
  await timed(rows.b64, () => bigDocs(true), async (docs) => {
    let at = 0;
    const views = docs.map((d: any) => b64Scratch.subarray(at, (at += b64Scratch.write(d.embedding.dense.buffer, at, 'base64'))));
    for (const v of views) v.toString('base64');
  });
}
for (const l of Object.values(rows)) l.splice(0, 20); // warm-up rounds
inp.end();
await py.close();
await reader.close();
await setter.close();

// 4. Cold start.
const tsCold = median([await coldStart(TS_FLOW), await coldStart(TS_FLOW), await coldStart(TS_FLOW)]);
const pyCold = median([await coldStart(PY_FLOW), await coldStart(PY_FLOW), await coldStart(PY_FLOW)]);

// 5. In containers: one workspace with both Executors (Python's image), Flows created in turn.
let inContainers: { ts: number; py: number } | undefined;
if (CONTAINERS) {
  const daemon = await benchDaemon();
  try {
    const file = (rel: string) => readFileSync(fileURLToPath(new URL(`../test/fixtures/${rel}`, import.meta.url)));
    const res = await fetch(`${daemon.url}/workspaces`, { method: 'POST', body: filesForm({ 'executors.ts': file('runtime/executors.ts'), 'noop-ts.yml': file('runtime/noop.yml'), 'executors.py': file('python/executors.py'), 'noop.yml': file('python/noop.yml'), 'requirements.txt': 'jina\n' }) });
    const ws = Object.keys((await res.json()) as object)[0]!;
    await waitForState(daemon.url, ws, ['ACTIVE'], 600_000);
    const start = async (filename: string) => {
      const t0 = performance.now();
      const r = await fetch(`${daemon.url}/flows?workspace_id=${ws}&filename=${filename}`, { method: 'POST' });
      const id = (await r.json()) as string;
      if (r.status !== 201) throw new Error(`POST /flows ${filename}: ${r.status} ${JSON.stringify(id)}`);
      const item = (await (await fetch(`${daemon.url}/flows/${id}`)).json()) as { metadata: { ports: Record<string, number> } };
      await postJson(item.metadata.ports['8080/tcp']!, '/index', { data: small(1) });
      const ms = performance.now() - t0;
      await fetch(`${daemon.url}/flows/${id}`, { method: 'DELETE' });
      return ms;
    };
    await start('noop-ts.yml'); // warm-up: images and compile caches
    await start('noop.yml');
    const ts: number[] = [];
    const pyMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      ts.push(await start('noop-ts.yml'));
      pyMs.push(await start('noop.yml'));
    }
    inContainers = { ts: median(ts), py: median(pyMs) };
  } finally {
    await daemon.close();
  }
}

const mb = (768 * 4 * 1000) / 1e6;
console.log(`${N} requests; Python ${process.env.JINAD_PYTHON}\n`);
console.log(table([
  ['', 'TypeScript', 'Python', 'ratio (target)'],
  ['no-op via gateway, docs/s (10 docs/req, 8 in flight)', tsRate.toFixed(0), pyRate.toFixed(0), `${(pyRate / tsRate).toFixed(2)}× (≥ 0.7)`],
  ['boundary p50 ms at 1 doc/req (in-process handler vs worker)', median(tsLat).toFixed(3), median(pyLat).toFixed(3), `+${(median(pyLat) - median(tsLat)).toFixed(3)} ms (≤ 0.3)`],
  ['cold start → first answer, ms (median of 3)', tsCold.toFixed(0), pyCold.toFixed(0), `+${(pyCold - tsCold).toFixed(0)} ms (≤ 300)`],
  ...(inContainers ? [['POST /flows → first answer in a container, ms (median of 5)', inContainers.ts.toFixed(0), inContainers.py.toFixed(0), `+${(inContainers.py - inContainers.ts).toFixed(0)} ms (≤ 300)`]] : []),
]));
console.log('');
const p50 = (l: number[]) => median(l).toFixed(2);
const ratio = (floorMs: number[], ms: number[], target = '') => `${(median(floorMs) / median(ms)).toFixed(2)}×${target}`;
console.log(table([
  [`1,000 × ${DIM}-dim float32 (${mb.toFixed(1)} MB)`, 'p50 ms', 'ratio to its floor (target)'],
  ['in, floor: the frame to Python, read whole, 8 bytes back', p50(rows.floorIn), '1.00'],
  ['in: a no-op', p50(rows.noopIn), ratio(rows.floorIn, rows.noopIn, ' (≥ 0.8)')],
  ['in, floor with the reader\'s work: the matrix copied and summed', p50(rows.floorRead), '1.00'],
  ['in: an Executor reads docs.embeddings (a numpy matrix), sums it', p50(rows.readIn), `${ratio(rows.floorRead, rows.readIn, ' (≥ 0.8)')}; to the bare floor ${ratio(rows.floorIn, rows.readIn)}`],
  ['in, as a JSON hop hands them over (base64)', p50(rows.readIn64), ratio(rows.floorIn, rows.readIn64)],
  ['out, floor: 1,000 texts to Python, the tensors back', p50(rows.floorOut), '1.00'],
  ['out: an encoder sets docs.embeddings for 1,000 texts', p50(rows.setOut), ratio(rows.floorOut, rows.setOut, ' (≥ 0.8)')],
  ['both, floor: the frame to Python and back', p50(rows.floorBoth), '1.00'],
  ['both, floor with the Executor\'s work: the matrix copied', p50(rows.floorCopyBoth), '1.00'],
  ['both: docs.embeddings read and set again', p50(rows.setBoth), `${ratio(rows.floorCopyBoth, rows.setBoth, ' (≥ 0.8)')}; to the bare floor ${ratio(rows.floorBoth, rows.setBoth)}`],
  ["base64 ↔ bytes alone (the JSON hops' share, in Node)", p50(rows.b64), ''],
]));
process.exit(0);
