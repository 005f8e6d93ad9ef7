/**
 * Uploads over HTTP (fake backend, no engine): streamed to disk with the limits enforced while
 * they stream; names the filesystem cannot hold, names that are not UTF-8, and archives whose
 * headers lie are refused while the upload is taken in, with a 4xx in words, leaving nothing.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Hono } from 'hono';
import { boundedBodies } from '../../src/http/body-limit.ts';
import { filesForm, makeZip, startFakeDaemon, waitForState } from '../helpers.ts';

let d: Awaited<ReturnType<typeof startFakeDaemon>>;
before(async () => {
  d = await startFakeDaemon({ config: { limits: { uploadBytes: 1024 * 1024, uploadFiles: 10, extractedBytes: 2 * 1024 * 1024 } } });
});
after(() => d?.cleanup());

/** A multipart body written by hand, so a file name can carry bytes a FormData would not send. */
function rawMultipart(nameBytes: Buffer, content = 'x'): { body: Buffer; type: string } {
  const b = `----jinad${Date.now()}`;
  const body = Buffer.concat([
    Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="files"; filename="`),
    nameBytes,
    Buffer.from(`"\r\nContent-Type: application/octet-stream\r\n\r\n${content}\r\n--${b}--\r\n`),
  ]);
  return { body, type: `multipart/form-data; boundary=${b}` };
}
const post = async (body: BodyInit, headers: Record<string, string> = {}) => {
  const res = await fetch(`${d.url}/workspaces`, { method: 'POST', body, headers });
  return { status: res.status, body: (await res.json()) as any };
};
const nothingStaged = () => {
  const staging = path.join(d.root, '.staging');
  const left = existsSync(staging) ? readdirSync(staging).flatMap((w) => readdirSync(path.join(staging, w))) : [];
  assert.deepEqual(left, [], 'staged files were left behind');
};

describe('uploads taken in', () => {
  it('a normal upload streams to disk and builds', async () => {
    const r = await post(filesForm({ 'a.txt': 'A', 'sub/b.txt': 'B', 'w.zip': makeZip([{ name: 'z/c.txt', data: 'C'.repeat(1000), deflate: true }]) }));
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const id = Object.keys(r.body)[0]!;
    const item = await waitForState(d.url, id, ['ACTIVE', 'FAILED'], 10_000);
    assert.equal(item.state, 'ACTIVE', item.reason);
    assert.deepEqual(item.arguments.files.sort(), ['a.txt', 'sub/b.txt', 'z/c.txt']);
    nothingStaged();
  });

  it('bad names, lying archives and oversize uploads: a 4xx in words, nothing kept', async () => {
    const before = (await (await fetch(`${d.url}/workspaces`)).json()) as any;
    const cases: [string, () => Promise<{ status: number; body: any }>, number, RegExp][] = [
      ['a name of 5,000 characters', () => post(filesForm({ ['x'.repeat(5000)]: 'x' })), 400, /has a part of 5000 bytes; a file or folder name may have at most 255/],
      ['5,000 characters in 200-character parts', () => post(filesForm({ [Array.from({ length: 25 }, () => 'y'.repeat(200)).join('/')]: 'x' })), 400, /a path may have at most 4095/],
      ['a name that is not UTF-8', () => { const m = rawMultipart(Buffer.from([0x61, 0xff, 0xfe, 0x62])); return post(new Uint8Array(m.body), { "content-type": m.type }); }, 400, /is not valid UTF-8/],
      ['a name with a line break in it (RFC 5987 filename*)', () => {
        const b = `----jinad${Date.now()}`;
        const body = `--${b}\r\nContent-Disposition: form-data; name="files"; filename*=UTF-8''two%0D%0Alines.txt\r\nContent-Type: application/octet-stream\r\n\r\nx\r\n--${b}--\r\n`;
        return post(body, { 'content-type': `multipart/form-data; boundary=${b}` });
      }, 400, /contains a control character \(U\+000D\)/],
      ['a zip whose header lies about its size', () => post(filesForm({ 'liar.zip': makeZip([{ name: 'f', data: Buffer.alloc(5000, 1), deflate: true, declaredSize: 1000 }]) })), 400, /corrupt: an entry's size does not match its header/],
      ['a zip bomb behind a small header', () => post(filesForm({ 'bomb.zip': makeZip([{ name: 'f', data: Buffer.alloc(3 * 1024 * 1024), deflate: true, declaredSize: 10 }]) })), 400, /corrupt|expands to more than/],
      ['a request over the byte limit', () => post(filesForm({ 'big.bin': Buffer.alloc(1024 * 1024 + 1) })), 413, /larger than 1048576 bytes/],
      ['more files than allowed', () => post(filesForm(Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`f${i}`, 'x'])))), 413, /at most 10 files/],
      ['a text field where files belong', () => { const f = new FormData(); f.append('files', 'just text'); return post(f); }, 422, /expected a file/],
    ];
    for (const [what, send, status, detail] of cases) {
      const r = await send().catch((err) => assert.fail(`${what}: ${err.message} ${err.cause?.message}`));
      assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
      assert.match(JSON.stringify(r.body.detail), detail, what);
    }
    const after = (await (await fetch(`${d.url}/workspaces`)).json()) as any;
    assert.deepEqual(Object.keys(after.items), Object.keys(before.items), 'a refused upload made a workspace');
    nothingStaged();
  });
});

describe('JSON bodies', () => {
  const big = JSON.stringify({ uses: 'x'.repeat(2 * 1024 * 1024) }); // over the 1 MiB default
  const unknownWs = 'jworkspace-00000000-0000-4000-8000-000000000000';
  it('a body over limits.jsonBytes is a 413 naming the limit, with a length or streamed without one; the workspace is checked before a body is read', async () => {
    const sized = await fetch(`${d.url}/pods?workspace_id=${unknownWs}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
    assert.equal(sized.status, 413);
    assert.match(((await sized.json()) as any).detail, /a request body may have at most 1048576 bytes \(limits\.jsonBytes\)/);
    const chunks = new ReadableStream({
      start(ctl) {
        for (let i = 0; i < 4; i++) ctl.enqueue(new TextEncoder().encode(big.slice(i * (big.length / 4), (i + 1) * (big.length / 4))));
        ctl.close();
      },
    });
    const streamed = await fetch(`${d.url}/pods?workspace_id=${unknownWs}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chunks, duplex: 'half' } as RequestInit);
    assert.equal(streamed.status, 413);
    const small = await fetch(`${d.url}/pods?workspace_id=${unknownWs}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"uses": "x"}' });
    assert.equal(small.status, 404, 'the unknown workspace, before the body');
    const still = await fetch(`${d.url}/`);
    assert.equal(still.status, 200);
  });

  it('a body without a length, under the limit, reaches the route whole', async () => {
    const app = new Hono();
    app.use(boundedBodies(64));
    app.post('/', async (c) => c.json(await c.req.json()));
    const body = new ReadableStream({
      start(ctl) {
        for (const part of ['{"a": ', '[1, 2', ', 3]}']) ctl.enqueue(new TextEncoder().encode(part));
        ctl.close();
      },
    });
    const res = await app.request('/', { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' } as RequestInit);
    assert.deepEqual(await res.json(), { a: [1, 2, 3] });
  });
});
