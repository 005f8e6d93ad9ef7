import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encode, ExtensionCodec } from '@msgpack/msgpack';
import { Incomplete, MsgpackReader, TooLarge } from './msgpack.ts';

const codec = new ExtensionCodec();
class EventTime {
  constructor(readonly epoch: number, readonly nano: number) {}
}
codec.register({
  type: 0,
  encode: (x) => {
    if (!(x instanceof EventTime)) return null;
    const b = Buffer.alloc(8);
    b.writeUInt32BE(x.epoch, 0);
    b.writeUInt32BE(x.nano, 4);
    return b;
  },
  decode: () => null,
});
codec.register({ type: 5, encode: (x) => (x instanceof Uint16Array ? new Uint8Array(x.buffer) : null), decode: () => null });

/** Every kind of value msgpack has, in each of its widths. */
const values = [
  0, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1,
  -1, -32, -33, -128, -129, -32_768, -32_769, -(2 ** 31), -(2 ** 31) - 1,
  0.5, -1.25e300, null, true, false,
  '', 'a', 'é and ✓', 'x'.repeat(31), 'x'.repeat(32), 'y'.repeat(255), 'y'.repeat(256), 'z'.repeat(65_536),
  new Uint8Array([1, 2, 3]), new Uint8Array(300), new Uint8Array(70_000),
  [], [1, [2, [3]]], Array.from({ length: 16 }, (_, i) => i), Array.from({ length: 70_000 }, (_, i) => i % 7),
  {}, { a: 1, b: { c: 'd' } }, Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, i])),
];
const expected = (v: unknown): unknown => (v instanceof Uint8Array ? Buffer.from(v) : v);

describe('the forward receiver’s msgpack reader', () => {
  it('reads every type and width as @msgpack/msgpack wrote it; EventTime as { epoch, nano }, other extensions as their bytes', () => {
    const r = new MsgpackReader();
    for (const v of values) {
      r.reset(Buffer.from(encode(v)));
      assert.deepEqual(r.value(), expected(v));
      assert.equal(r.more, false);
    }
    r.reset(Buffer.from(encode([new EventTime(1_800_000_000, 999_999_999), new Uint16Array([1, 2])], { extensionCodec: codec })));
    assert.deepEqual(r.value(), [{ epoch: 1_800_000_000, nano: 999_999_999 }, Buffer.from(new Uint8Array(new Uint16Array([1, 2]).buffer))]);
  });

  it('strings it has read before are matched by their bytes: same length, first and last byte, a byte apart, non-ASCII, not UTF-8', () => {
    const strings = ['abc', 'abc', 'axc', 'abc', 'aéc', 'aéc', 'a✓c', 'x'.repeat(64), `${'x'.repeat(63)}y`, 'x'.repeat(64), 'x'.repeat(65)];
    const invalid = Buffer.from([0xa3, 0x61, 0xff, 0x63]); // fixstr of 3: 'a', a byte that is never UTF-8, 'c'
    const r = new MsgpackReader();
    for (let round = 0; round < 2; round++) {
      r.reset(Buffer.concat([...strings.map((s) => Buffer.from(encode(s))), invalid, invalid, Buffer.from(encode('abc'))]));
      const got: unknown[] = [];
      while (r.more) got.push(r.value());
      assert.deepEqual(got, [...strings, 'a\ufffdc', 'a\ufffdc', 'abc']);
    }
  });

  it('a value cut anywhere is Incomplete, naming at least the bytes it needs, never more than it has', () => {
    const message = Buffer.from(encode(['jinad.w.o', new EventTime(1, 2), { log: 'a line', blob: new Uint8Array(40), n: [1, -300, 2 ** 40] }, {}], { extensionCodec: codec }));
    const r = new MsgpackReader();
    for (let cut = 0; cut < message.length; cut++) {
      r.reset(message.subarray(0, cut));
      assert.throws(
        () => r.value(),
        (err) => err instanceof Incomplete && err.needed > cut && err.needed <= message.length,
        `cut at ${cut}`,
      );
    }
  });

  it('refuses a declared length over its limit before reading it, and a map key __proto__', () => {
    const r = new MsgpackReader(1000);
    const header = Buffer.from([0xdb, 0x04, 0x00, 0x00, 0x00]); // str32 of 64 MiB, none of it sent
    r.reset(header);
    assert.throws(() => r.value(), TooLarge);
    r.reset(Buffer.from([0xdd, 0x00, 0x00, 0x10, 0x00])); // array32 of 4,096 items
    assert.throws(() => r.value(), TooLarge);
    r.reset(Buffer.from([0x81, 0xa9, ...Buffer.from('__proto__'), 0x80]));
    assert.throws(() => r.value(), /__proto__/);
    r.reset(Buffer.from([0xc1]));
    assert.throws(() => r.value(), /not msgpack/);
  });
});
