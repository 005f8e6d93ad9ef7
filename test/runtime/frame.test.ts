/**
 * Frames between the runtime's own processes: a data request with its tensors as bytes, read back
 * as the same request (its JSON, where tensors are base64, is the same), columns for tensors of one
 * dtype and shape, and a server that answers each client in the form it was asked.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { Encoder } from '@msgpack/msgpack';
import { sendRequest } from '../../src/runtime/pea.ts';
import { type DataRequest, decodeFrame, encodeFrame, newRequest, requestServer } from '../../src/runtime/protocol.ts';
import { Bytes } from '../../src/runtime/tensor.ts';

const f32 = (...values: number[]) => {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeFloatLE(v, i * 4));
  return b;
};
const dense = (b: Buffer, shape: number[], dtype = '<f4', asBytes = false) => ({ dense: { buffer: asBytes ? Bytes.view(b) : b.toString('base64'), shape, dtype } });

/** A request with what documents carry: a column of embeddings, one of another shape, blobs, chunks and matches with tensors, tags, a buffer. */
function sample(asBytes = false): DataRequest {
  const req = newRequest({
    requestId: 'r1',
    endpoint: '/index',
    parameters: { top_k: 3, nested: { a: [1, 'two', null] } },
    docs: [0, 1, 2].map((i) => ({
      id: `d${i}`,
      text: `text ${i}`,
      tags: { i, ok: true },
      embedding: dense(f32(i, i + 1, i + 2, i + 3), [2, 2], '<f4', asBytes),
      ...(i === 1 ? { blob: dense(Buffer.from([1, 0, 2, 0]), [2], '<i2', asBytes), buffer: Buffer.from('raw bytes').toString('base64') } : {}),
      chunks: [{ id: `c${i}`, embedding: dense(f32(9, 8, 7), [3], '<f4', asBytes) }],
      matches: i === 2 ? [{ id: 'm', scores: { cosine: { value: 0.25, opName: 'cosine' } } }] : [],
    })) as any,
  });
  req.data.groundtruths = [{ id: 'g', embedding: dense(f32(1), [1], '<f4', asBytes) }] as any;
  req.docsMatrix = [[{ id: 'x', embedding: dense(f32(5, 6), [2], '<f4', asBytes) }], []] as any;
  req.routes = [{ pod: 'gateway', podId: 'p', startTime: '2026-12-07T00:00:00Z' }];
  return req;
}
const join = (parts: Uint8Array[]) => Buffer.concat(parts);
/** What a JSON client reads (key order aside). */
const asJson = (r: unknown) => JSON.parse(JSON.stringify(r));

describe('frames', () => {
  it('a request read back from its frame is the same request: the same JSON, tensors as Bytes', () => {
    const req = sample();
    const back = decodeFrame(join(encodeFrame(req)));
    assert.deepEqual(asJson(back), asJson(req));
    const e = (back.data.docs[0] as any).embedding.dense;
    assert.ok(e.buffer instanceof Bytes);
    assert.deepEqual([e.shape, e.dtype, [...new Float32Array(e.buffer.buffer.slice(e.buffer.byteOffset, e.buffer.byteOffset + 16))]], [[2, 2], '<f4', [0, 1, 2, 3]]);
    assert.equal(typeof (back.data.docs[1] as any).buffer, 'string', "a document's buffer stays base64 text for Executors");
  });

  it('tensors that came as bytes go as they are, and read back the same', () => {
    assert.deepEqual(asJson(decodeFrame(join(encodeFrame(sample(true))))), asJson(sample()));
  });

  it('embeddings of one dtype and shape are one blob; the frame carries no base64', () => {
    const parts = encodeFrame(sample(true));
    const frame = join(parts);
    const all = f32(0, 1, 2, 3, 1, 2, 3, 4, 2, 3, 4, 5);
    assert.ok(frame.includes(all), 'the three embeddings, one after the other');
    assert.ok(!frame.includes(Buffer.from(f32(0, 1, 2, 3).toString('base64'))));
  });

  it('a frame that does not add up is refused', () => {
    const frame = join(encodeFrame(sample()));
    assert.throws(() => decodeFrame(frame.subarray(0, 3)), /header length/);
    assert.throws(() => decodeFrame(frame.subarray(0, 40)), /shorter than its header/);
    assert.throws(() => decodeFrame(frame.subarray(0, frame.length - 1)), /shorter than its tensors/);
    // A header that lies: a column of 3 bytes for two documents.
    const docs = new Encoder().encode([{ id: 'a' }, { id: 'b' }]);
    const header = new Encoder().encode({ request: { ...sample(), data: { docs: { docs, n: 2, cols: { embedding: { blob: 0, shape: [1], dtype: '<f4' } } } } }, blobs: [3] });
    const size = Buffer.alloc(4);
    size.writeUInt32LE(header.byteLength);
    assert.throws(() => decodeFrame(Buffer.concat([size, header, Buffer.alloc(3)])), /does not divide into its 2 document/);
  });
});

describe('a request server', () => {
  let server: http.Server;
  const agent = new http.Agent({ keepAlive: true });
  after(() => {
    agent.destroy();
    server?.close();
  });

  it('answers a frame with a frame and JSON with JSON, the same request either way; a broken frame gets its fail status', async () => {
    server = requestServer({ describe: () => ({}), handle: async (r) => ({ ...r, parameters: { ...r.parameters, seen: true } }), failStatus: 400 });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const framed = await sendRequest(agent, '127.0.0.1', port, 'echo', sample(), true);
    const json = await sendRequest(agent, '127.0.0.1', port, 'echo', sample(), false);
    assert.ok((framed.data.docs[0] as any).embedding.dense.buffer instanceof Bytes);
    assert.equal(typeof (json.data.docs[0] as any).embedding.dense.buffer, 'string');
    assert.deepEqual(asJson(framed), asJson(json));
    assert.equal(framed.parameters.seen, true);

    const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers: { 'content-type': 'application/x-jinad-frame' }, body: new Uint8Array([9, 0, 0, 0, 1]) });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /shorter than its header/);
  });
});
