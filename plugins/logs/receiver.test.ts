import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { decode, encode, ExtensionCodec } from '@msgpack/msgpack';
import { freePort } from '../../test/helpers.ts';
import { type Entry, ForwardReceiver } from './receiver.ts';

const time = (epoch: number, nano: number) => {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(epoch, 0);
  b.writeUInt32BE(nano, 4);
  return b;
};
const codec = new ExtensionCodec();
class EventTime {
  constructor(readonly b: Buffer) {}
}
codec.register({ type: 0, encode: (x) => (x instanceof EventTime ? x.b : null), decode: () => null });
const et = (e: number, n: number) => new EventTime(time(e, n));

describe('forward-protocol receiver', () => {
  it('reads Message, Forward and PackedForward (gzip too) modes, EventTime and plain seconds; acks on request; closes with clients connected', async () => {
    const got: Entry[] = [];
    const rx = new ForwardReceiver((e) => got.push(e));
    const port = await freePort();
    await rx.listen(port, '127.0.0.1');
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    const packed = Buffer.concat([encode([et(3, 0), { log: 'p1' }], { extensionCodec: codec }), encode([et(4, 0), { log: 'p2' }], { extensionCodec: codec })]);
    sock.write(encode(['jinad.w.o', et(1_800_000_000, 123_456_789), { log: 'message mode', source: 'stdout' }, {}], { extensionCodec: codec }));
    sock.write(encode(['t', [[et(1, 0), { log: 'f1' }], [2, { log: 'f2' }]]], { extensionCodec: codec }));
    sock.write(encode(['t', packed]));
    sock.write(encode(['t', gzipSync(packed), { compressed: 'gzip', chunk: 'abc' }]));
    const ack = await new Promise<unknown>((r) => sock.once('data', (d) => r(decode(d))));
    assert.deepEqual(ack, { ack: 'abc' });
    assert.deepEqual(got.map((e) => e.record.log), ['message mode', 'f1', 'f2', 'p1', 'p2', 'p1', 'p2']);
    assert.deepEqual([got[0]!.tag, got[0]!.epoch, got[0]!.nano], ['jinad.w.o', 1_800_000_000, 123_456_789]);
    assert.deepEqual([got[2]!.epoch, got[2]!.nano], [2, 0]);
    const closed = new Promise((r) => sock.once('close', r));
    await rx.close(); // Docker never closes its side: close must not wait for it
    await closed;
  });

  it('takes messages split across writes anywhere (a byte at a time, a large one in pieces) once each, in order', async () => {
    const got: Entry[] = [];
    const rx = new ForwardReceiver((e) => got.push(e), { maxMessageBytes: 1 << 20 });
    const port = await freePort();
    await rx.listen(port, '127.0.0.1');
    try {
      const sock = net.connect(port, '127.0.0.1');
      sock.setNoDelay(true);
      await new Promise((r) => sock.once('connect', r));
      const small = Buffer.concat(['one', 'two', 'three'].map((log) => encode(['t', et(1, 0), { log }, {}], { extensionCodec: codec })));
      for (const byte of small) {
        sock.write(Buffer.from([byte]));
        await new Promise((r) => setImmediate(r));
      }
      const large = encode(['t', 2, { log: 'w'.repeat(600_000) }]);
      for (let at = 0; at < large.length; at += 7_000) sock.write(large.subarray(at, at + 7_000));
      sock.end(encode(['t', 3, { log: 'last' }]));
      for (let i = 0; i < 200 && got.length < 5; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(got.map((e) => String(e.record.log).slice(0, 5)), ['one', 'two', 'three', 'wwwww', 'last']);
      assert.equal(String(got[3]!.record.log).length, 600_000);
    } finally {
      await rx.close();
    }
  });

  it('drops a connection that does not speak the protocol', async () => {
    const rx = new ForwardReceiver(() => {});
    const port = await freePort();
    await rx.listen(port, '127.0.0.1');
    const sock = net.connect(port, '127.0.0.1');
    const closed = new Promise((r) => sock.once('close', r));
    sock.write(Buffer.from([0xc1, 0xc1, 0xc1])); // 0xc1 is never used in msgpack
    await closed;
    await rx.close();
  });
});

describe('where the receiver listens', () => {
  it('on a Unix socket in a folder it makes 0700, and removes the socket when it closes', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jinad-rx-'));
    try {
      const got: Entry[] = [];
      const rx = new ForwardReceiver((e) => got.push(e));
      const file = path.join(dir, 'run', 'logs.sock');
      await rx.listenSocket(file);
      assert.equal(statSync(path.dirname(file)).mode & 0o777, 0o700);
      const sock = net.connect(file);
      await new Promise((r) => sock.once('connect', r));
      sock.end(encode(['t', 1, { log: 'over the socket' }]));
      for (let i = 0; i < 100 && !got.length; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(got[0]?.record.log, 'over the socket');
      await rx.close();
      assert.equal(existsSync(file), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('on TCP, takes records only from addresses it allows, and reads nothing from the others', async () => {
    const got: Entry[] = [];
    const refused: string[] = [];
    const rx = new ForwardReceiver((e) => got.push(e), {}, (reason, from) => refused.push(`${from}: ${reason}`));
    const port = await freePort();
    await rx.listen(port, '127.0.0.1', async (address) => address === '127.0.0.1');
    try {
      // 127.0.0.2 is loopback too, but not on the list (as a machine that is not a Swarm node).
      const other = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
      const closed = new Promise((r) => other.once('close', r));
      other.on('error', () => {});
      other.write(encode(['t', 1, { log: 'from a stranger' }]));
      await closed;
      const node = net.connect(port, '127.0.0.1');
      await new Promise((r) => node.once('connect', r));
      node.end(encode(['t', 1, { log: 'from a node' }]));
      for (let i = 0; i < 100 && !got.length; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(
        got.map((e) => e.record.log),
        ['from a node'],
      );
      assert.deepEqual(refused, ['127.0.0.2: it is not one of the nodes that may send logs']);
    } finally {
      await rx.close();
    }
  });
});

describe('receiver limits', () => {
  it('closes connections idle past idleMs, and refuses connections past maxConnections', async () => {
    const rx = new ForwardReceiver(() => {}, { idleMs: 1000, maxConnections: 3 });
    const port = await freePort();
    await rx.listen(port, '127.0.0.1');
    try {
      const open = async () => {
        const s = net.connect(port, '127.0.0.1');
        const closed = new Promise<number>((r) => s.once('close', () => r(Date.now())));
        s.on('error', () => {});
        await new Promise((r) => s.once('connect', r));
        return { s, closed };
      };
      const t0 = Date.now();
      const conns = await Promise.all([open(), open(), open()]);
      const extra = await open();
      // The fourth is closed by the server at once; the three idle ones once idleMs has passed.
      const idleClosed = await Promise.all(conns.map((c) => c.closed));
      assert.ok((await extra.closed) < Math.min(...idleClosed), 'the connection over the cap stayed open');
      for (const at of idleClosed) assert.ok(at - t0 >= 990, 'an idle connection closed too early');
    } finally {
      await rx.close();
    }
  });
});
