/**
 * Python Executors in the runtime: Jina 2-style executors.py (test/fixtures/python) run by Peas
 * through Python workers, with Debian's python3 (numpy and msgpack from python3-numpy and
 * python3-msgpack, which CI installs). Indexing and cosine search, tensors that keep their dtype
 * and shape, Flows mixing TypeScript and Python, joins, shards, return values, failures, a crash
 * (the worker comes back), a constructor that raises, and the Executor's own log lines.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Flow, loadFlow } from '../../src/runtime/index.ts';
import { sizeOf } from '../../src/runtime/frame.ts';
import { StartError } from '../../src/runtime/pea.ts';
import { encodeFrame, fromRawFrame, frameParts, newRequest, readFrame } from '../../src/runtime/protocol.ts';
import { PythonExecutor } from '../../src/runtime/python.ts';
import { Bytes } from '../../src/runtime/tensor.ts';
import { post } from './helpers.ts';

process.env.JINAD_PYTHON ??= '/usr/bin/python3';
const FIXTURES = fileURLToPath(new URL('../fixtures/python', import.meta.url));
let dir: string;
const flows: Flow[] = [];
const lines: string[] = [];

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'jinad-py-'));
  cpSync(FIXTURES, dir, { recursive: true });
});
after(async () => {
  for (const f of flows) await f.close();
  rmSync(dir, { recursive: true, force: true });
});

async function start(file: string) {
  const flow = await new Flow(loadFlow(path.join(dir, file), {}), { host: '127.0.0.1', onLog: (l) => lines.push(l) }).start();
  flows.push(flow);
  return flow;
}
async function stop(flow: Flow) {
  await flow.close();
  flows.splice(flows.indexOf(flow), 1);
}
/** A request to any endpoint (the gateway routes only Jina's CRUD ones by path). */
const call = (port: number, endpoint: string, body: Record<string, unknown>) => post(port, '/post', { ...body, exec_endpoint: endpoint });
const f32 = (t: any) => {
  const b = Buffer.from(t.dense.buffer, 'base64');
  return Array.from({ length: b.length / 4 }, (_, i) => b.readFloatLE(i * 4));
};

const TEXTS = ['hello world', 'hello there', 'jina executors', 'python and numpy', 'typescript runtime', 'world peace'];

describe('Python Executors', () => {
  it('index then search: numpy embeddings (float32, shape kept) and matches scored by cosine, nearest first; the index outlives a restart', async () => {
    let flow = await start('flow.yml');
    const indexed = await call(flow.port!, '/index', { data: TEXTS.map((text, i) => ({ id: `d${i}`, text })) });
    assert.equal(indexed.status.code, 0, JSON.stringify(indexed.status));
    const e = indexed.data.docs[0].embedding;
    assert.deepEqual([e.dense.dtype, e.dense.shape], ['<f4', [8]]);
    assert.equal(f32(e).reduce((a, b) => a + b, 0), 'hello world'.length);
    const found = await call(flow.port!, '/search', { data: [{ text: 'hello world' }], parameters: { top_k: 3 } });
    const matches = found.data.docs[0].matches;
    assert.equal(matches.length, 3);
    assert.equal(matches[0].id, 'd0');
    assert.ok(matches[0].scores.cosine.value < 1e-6, JSON.stringify(matches[0].scores));
    const values = matches.map((m: any) => m.scores.cosine.value);
    assert.deepEqual(values, [...values].sort((a, b) => a - b));
    assert.equal(matches[0].scores.cosine.opName, 'cosine');
    assert.ok(lines.some((l) => /CharEncoder ready with 8 dimensions/.test(l)), 'self.logger reaches the log');
    assert.ok(lines.some((l) => /encoding 6 documents/.test(l)), 'print reaches the log');

    await stop(flow); // close() saves the index in the Executor's workspace
    flow = await start('flow.yml');
    const counted = await call(flow.port!, '/count', { data: [] });
    assert.deepEqual(counted.parameters.__results__.indexer, { count: 6, dims: [8] });
  });

  it('a Flow mixing TypeScript and Python, both ways: the TypeScript Executor reads the numpy embedding, which leaves with its dtype', async () => {
    const flow = await start('mixed.yml');
    const out = await call(flow.port!, '/index', { data: ['abc'] });
    const d = out.data.docs[0];
    assert.equal(d.text, 'ABC');
    assert.equal(d.tags.dims, 4);
    assert.deepEqual([d.embedding.dense.dtype, d.embedding.dense.shape], ['<f4', [4]]);
    assert.deepEqual(out.routes.map((r: any) => r.pod), ['upper', 'encoder', 'upper_again']);
  });

  it('tensors of one dtype and shape cross as a column and come back with it; other shapes one by one; untouched bytes unchanged', async () => {
    const flow = await start('tensors.yml');
    const dense = (values: number[], shape: number[], dtype = '<f4') => {
      const b = Buffer.alloc(values.length * (dtype === '<f8' ? 8 : 4));
      values.forEach((v, i) => (dtype === '<f8' ? b.writeDoubleLE(v, i * 8) : b.writeFloatLE(v, i * 4)));
      return { dense: { buffer: b.toString('base64'), shape, dtype } };
    };
    const docs = [0, 1, 2].map((i) => ({ id: `d${i}`, text: `t${i}`, embedding: dense([i, i + 0.5, 1 - i, 1], [2, 2]) }));
    const out = await call(flow.port!, '/index', { data: docs });
    assert.equal(out.status.code, 0, JSON.stringify(out.status));
    assert.deepEqual(out.data.docs.map((d: any) => [d.id, d.text, d.embedding.dense.dtype, d.embedding.dense.shape]), docs.map((d) => [d.id, d.text, '<f4', [2, 2]]));
    assert.deepEqual(out.data.docs.map((d: any) => f32(d.embedding)), [0, 1, 2].map((i) => [i, i + 0.5, 1 - i, 1].map((v) => v * 3)));

    // One document of another shape and dtype: no column; each keeps its own.
    const mixed = [docs[0], { id: 'x', embedding: dense([1, 2, 3], [3], '<f8') }];
    const one = await call(flow.port!, '/one', { data: mixed });
    assert.equal(one.status.code, 0, JSON.stringify(one.status));
    assert.deepEqual(one.data.docs.map((d: any) => [d.embedding.dense.dtype, d.embedding.dense.shape]), [['<f4', [2, 2]], ['<f8', [3]]]);
    assert.deepEqual(f32(one.data.docs[0].embedding), [0, 1.5, 3, 3]);
    assert.equal(one.data.docs[1].embedding.dense.buffer, mixed[1]!.embedding.dense.buffer, 'a tensor no one changed leaves as it came');
  });

  it("a Python Pea relays its head's frame: a column set again goes on in place of the one that came, groundtruths' tensors kept, a join's dropped", async () => {
    const spec = loadFlow(path.join(dir, 'tensors.yml')).executors[1]!; // Scale, factor 3
    const py = await PythonExecutor.start(spec, { name: 'scaled', workspace: dir, replicaId: 0, replicas: 1 }, 'scaled');
    try {
      const vec = (...v: number[]) => ({ dense: { buffer: Bytes.view(new Uint8Array(new Float32Array(v).buffer)), shape: [v.length], dtype: '<f4' } });
      const req = newRequest({ endpoint: '/index', docs: [0, 1].map((i) => ({ id: `d${i}`, embedding: vec(i, i + 1) })) as any });
      req.data.groundtruths = [{ id: 'g', embedding: vec(7) }] as any;
      req.docsMatrix = [[{ id: 'x', embedding: vec(5, 6) }]] as any;
      const out = await py.relay(readFrame(Buffer.concat(encodeFrame(req))));
      // The frame's blobs (the documents' column, groundtruths', the join's), then the worker's new column.
      assert.deepEqual(out.blobs.map(sizeOf), [0, 4, 0, 16]);
      const back = fromRawFrame(readFrame(Buffer.concat(frameParts(out))));
      const floats = (d: any) => [...new Float32Array(new Uint8Array(d.embedding.dense.buffer).slice().buffer)];
      assert.deepEqual(back.data.docs.map(floats), [[0, 3], [3, 6]]);
      assert.deepEqual(back.data.groundtruths!.map(floats), [[7]]);
      assert.equal(back.docsMatrix, undefined);
    } finally {
      await py.close();
    }
  });

  it('a join gets docs_matrix; parameters under an Executor\'s name are for it alone', async () => {
    const flow = await start('dag.yml');
    const out = await call(flow.port!, '/index', { data: [{ id: 'a', text: 'x' }], parameters: { right: { only: 'right' } } });
    assert.equal(out.status.code, 0, JSON.stringify(out.status));
    assert.deepEqual(out.data.docs[0].tags, { left: 'L', right: 'R', branches: 2, only: 'right' });
  });

  it('shards with polling all, with uses_before and uses_after in Python', async () => {
    const flow = await start('shards.yml');
    const out = await call(flow.port!, '/index', { data: [{ id: 'q', text: 'x' }] });
    assert.equal(out.status.code, 0, JSON.stringify(out.status));
    assert.equal(out.data.docs[0].tags.branches, 3);
  });

  it("return values as Jina reads them, groundtruths, and failures with the Executor's traceback; a crash fails its request and the worker comes back", async () => {
    const flow = await start('replies.yml');
    const dict = await call(flow.port!, '/dict', { data: ['a', 'b'], parameters: { x: 7 } });
    assert.deepEqual(dict.parameters.__results__.replies, { seen: 2, asked: 7 });
    const replaced = await call(flow.port!, '/replace', { data: ['a'] });
    assert.deepEqual(replaced.data.docs.map((d: any) => d.text), ['new a']);
    const bad = await call(flow.port!, '/bad', { data: ['a'] });
    assert.equal(bad.status.code, 3);
    assert.match(bad.status.description, /replies(\/\d)?: TypeError: The return type must be DocumentArray \/ Dict \/ `None`, but getting 42/);
    const raised = await call(flow.port!, '/raise', { data: ['this'] });
    assert.equal(raised.status.code, 3);
    assert.equal(raised.status.exception.name, 'ValueError');
    assert.deepEqual(raised.status.exception.args, ['cannot take this']);
    const stack = raised.status.exception.stacks.join('\n');
    assert.match(stack, /executors\.py", line \d+, in fail/);
    assert.doesNotMatch(stack, /_worker\.py/, 'the runtime\'s own frames are left out');

    const gts = await call(flow.port!, '/evaluate', { data: [{ id: 'q', matches: [{ id: 'a' }, { id: 'b' }] }], groundtruths: [{ id: 'q', matches: [{ id: 'a' }] }] });
    assert.equal(gts.data.docs[0].evaluations.precision.value, 0.5);

    // Both replicas crash (one request each, round robin), then answer again from new workers.
    const pids = new Set<number>();
    for (let i = 0; i < 2; i++) pids.add((await call(flow.port!, '/pid', { data: [] })).parameters.__results__.replies.pid);
    for (let i = 0; i < 2; i++) {
      const crashed = await call(flow.port!, '/crash', { data: ['a'] });
      assert.equal(crashed.status.code, 3);
      assert.match(crashed.status.description, /the Python worker exited with code 3/);
      assert.match(crashed.status.description, /about to crash/);
    }
    for (let i = 0; i < 2; i++) {
      const again = await call(flow.port!, '/pid', { data: [] });
      assert.equal(again.status.code, 0, JSON.stringify(again.status));
      assert.ok(!pids.has(again.parameters.__results__.replies.pid), 'a new worker');
    }
  });

  it("a constructor that raises fails the Flow's start with its traceback", async () => {
    await assert.rejects(
      () => start('broken.yml'),
      (err: Error) => err instanceof StartError && /RuntimeError: no model file here/.test(err.message) && /executors\.py", line \d+, in __init__/.test(err.message),
    );
  });
});

describe('app.py: a Flow built in Python', () => {
  it('`from jina import Flow` runs the Flow with the runtime, posts to it and reads the answers', async () => {
    // Port 0: the runtime picks a free one and says which (a port picked here first could be taken by then).
    const { stdout } = await promisify(execFile)(process.env.JINAD_PYTHON!, ['app.py', '0', '--once'], {
      cwd: dir,
      env: { ...process.env, PYTHONPATH: fileURLToPath(new URL('../../src/runtime/python', import.meta.url)) },
      timeout: 60_000,
    });
    // The runtime's lines, forwarded by another thread, may land between print's text and its newline.
    const result = /RESULT (\[[^\]]*\])/.exec(stdout);
    assert.ok(result, stdout);
    assert.equal(JSON.parse(result[1]!)[0], 'd0');
    assert.match(stdout, /Flow ready/);
  });
});
