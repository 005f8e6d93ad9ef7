/**
 * The gRPC gateway (`protocol: grpc`): jina.JinaRPC/Call streams, answered by request id, from
 * a Node client built on the runtime's jina.proto and from a Python client generated from the
 * same .proto by grpc_tools (Debian's python3-grpcio and python3-grpc-tools; CI installs them).
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Flow, loadFlow } from '../../src/runtime/index.ts';
import { fixture } from './helpers.ts';

const PROTO = fileURLToPath(new URL('../../src/runtime/jina.proto', import.meta.url));
const PYTHON = '/usr/bin/python3';

let flow: Flow;
before(async () => {
  flow = await new Flow(loadFlow(fixture('grpc.yml')), { host: '127.0.0.1' }).start();
});
after(() => flow?.close());

function client() {
  const def = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, enums: Number, defaults: true, oneofs: true });
  const JinaRPC = (grpc.loadPackageDefinition(def).jina as any).JinaRPC;
  return new JinaRPC(`127.0.0.1:${flow.port}`, grpc.credentials.createInsecure());
}
const f32 = (xs: number[]) => {
  const b = Buffer.alloc(xs.length * 4);
  xs.forEach((x, i) => b.writeFloatLE(x, i * 4));
  return { dense: { buffer: b, shape: [xs.length], dtype: 'float32' } };
};

describe('gRPC gateway', () => {
  it('answers a stream of many requests in flight, each by its request id, with documents, tags, embeddings and parameters', async () => {
    const c = client();
    const call = c.Call();
    const answers = new Map<string, any>();
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (r: any) => answers.set(r.request_id, r));
      call.on('end', resolve);
      call.on('error', reject);
    });
    for (let i = 0; i < 50; i++) {
      call.write({
        request_id: `r${i}`,
        header: { exec_endpoint: '/index' },
        parameters: { fields: { top_k: { numberValue: i } } },
        data: { docs: [{ id: `d${i}`, text: `doc ${i}`, embedding: f32([i, 0.5]), tags: { fields: { n: { numberValue: i } } } }] },
      });
    }
    call.end();
    await done;
    c.close();
    assert.equal(answers.size, 50);
    for (let i = 0; i < 50; i++) {
      const r = answers.get(`r${i}`);
      assert.equal(r.status.code, 0);
      assert.equal(r.header.exec_endpoint, '/index');
      assert.equal(r.parameters.fields.top_k.numberValue, i);
      const doc = r.data.docs[0];
      assert.deepEqual([doc.id, doc.text], [`d${i}`, `DOC ${i}`]);
      assert.equal(doc.tags.fields.tag.stringValue, 'via-grpc');
      assert.equal(doc.tags.fields.n.numberValue, i);
      // The tensor goes through as it came: float32, its shape kept.
      assert.deepEqual([doc.embedding.dense.dtype, doc.embedding.dense.shape], ['float32', [2]]);
      const e = doc.embedding.dense.buffer as Buffer;
      assert.deepEqual([e.readFloatLE(0), e.readFloatLE(4)], [i, 0.5]);
      assert.deepEqual(r.routes.map((x: any) => x.pod), ['upper', 'tag']);
    }
  });

  it("an executor's error comes back as an ERROR status, and the stream goes on", async () => {
    const c = client();
    const call = c.Call();
    const got: any[] = [];
    const done = new Promise<void>((resolve, reject) => call.on('data', (r: any) => got.push(r)).on('end', resolve).on('error', reject));
    call.write({ request_id: 'bad', header: { exec_endpoint: '/fail' }, data: { docs: [{ text: 'x' }] } });
    call.write({ request_id: 'good', header: { exec_endpoint: '/index' }, data: { docs: [{ text: 'x' }] } });
    call.end();
    await done;
    c.close();
    const byId = Object.fromEntries(got.map((r) => [r.request_id, r]));
    assert.equal(byId.bad.status.code, 3);
    assert.match(byId.bad.status.description, /refuses \/fail/);
    assert.equal(byId.good.status.code, 0);
  });

  const pythonGrpc = spawnSync(PYTHON, ['-c', 'import grpc, grpc_tools'], { stdio: 'ignore' }).status === 0;
  it('a Python client generated from the .proto by grpc_tools streams requests and reads the answers', { skip: pythonGrpc ? false : `${PYTHON} has no grpc / grpc_tools (apt-get install python3-grpcio python3-grpc-tools)` }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jinad-grpc-py-'));
    const wellKnown = execFileSync(PYTHON, ['-c', 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))']).toString().trim();
    execFileSync(PYTHON, ['-m', 'grpc_tools.protoc', `-I${path.dirname(PROTO)}`, `-I${wellKnown}`, `--python_out=${dir}`, `--grpc_python_out=${dir}`, PROTO]);
    writeFileSync(
      path.join(dir, 'client.py'),
      `import json, struct, sys
import grpc
import jina_pb2, jina_pb2_grpc

def requests():
    for i in range(20):
        r = jina_pb2.RequestProto(request_id=f"py{i}")
        r.header.exec_endpoint = "/index"
        d = r.data.docs.add(id=f"p{i}", text=f"from python {i}")
        d.embedding.dense.buffer = struct.pack("<2f", float(i), 0.25)
        d.embedding.dense.shape.extend([2])
        d.embedding.dense.dtype = "float32"
        d.tags.update({"lang": "python"})
        yield r

with grpc.insecure_channel(sys.argv[1]) as channel:
    out = []
    for r in jina_pb2_grpc.JinaRPCStub(channel).Call(requests()):
        d = r.data.docs[0]
        e = d.embedding.dense
        out.append({"id": r.request_id, "code": r.status.code, "text": d.text, "tags": dict(d.tags),
                    "embedding": list(struct.unpack("<%df" % (len(e.buffer) // 4), e.buffer)), "dtype": e.dtype, "shape": list(e.shape),
                    "routes": [x.pod for x in r.routes]})
print(json.dumps(out))
`,
    );
    // Not execFileSync: the gateway answering it runs in this process.
    const { stdout } = await promisify(execFile)(PYTHON, [path.join(dir, 'client.py'), `127.0.0.1:${flow.port}`], { cwd: dir });
    const out = JSON.parse(stdout) as any[];
    assert.equal(out.length, 20);
    const byId = Object.fromEntries(out.map((r) => [r.id, r]));
    for (let i = 0; i < 20; i++) {
      const r = byId[`py${i}`];
      assert.deepEqual([r.code, r.text, r.tags.lang, r.tags.tag, r.dtype, r.shape], [0, `FROM PYTHON ${i}`, 'python', 'via-grpc', 'float32', [2]]);
      assert.deepEqual(r.embedding, [i, 0.25]);
      assert.deepEqual(r.routes, ['upper', 'tag']);
    }
  });
});
