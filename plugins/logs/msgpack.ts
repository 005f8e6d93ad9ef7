/**
 * A msgpack reader for the forward protocol's receiving side: values read one after another
 * from a buffer, synchronously, with strings made by Node's native UTF-8 decoding.
 *
 * Why not @msgpack/msgpack's stream decoder (still used to encode acks): an async iteration per
 * message and its JavaScript string decoding cost 3.1 µs a Docker log line; this reads the
 * same line in 1.2 µs, 0.8 µs with the strings it repeats matched rather than decoded.
 * EventTime (ext 0, 8 bytes) becomes `{ epoch, nano }`; other extensions their bytes.
 */

/** The buffer ended inside a value: read again from the value's start once `needed` bytes are there. */
export class Incomplete {
  constructor(readonly needed: number) {}
}

/** A string, binary, extension, array or map declared longer than the reader's limit. */
export class TooLarge extends Error {}

/** Strings up to this many bytes are looked up among those read before (see `str`). */
const CACHED_MAX = 64;
const CACHE_SLOTS = 256;

export class MsgpackReader {
  private buf: Buffer = Buffer.alloc(0);
  /**
   * Strings read before, by length and first and last byte: a Docker log record repeats its
   * keys, container id and name, stream and tag at every line, and comparing a string's bytes
   * here costs less than a native decode and a new string.
   */
  private strings: (string | undefined)[] = new Array(CACHE_SLOTS);
  /** Where the next value starts. */
  pos = 0;

  /** `maxLength`: the most bytes (or items) any one string, binary, extension, array or map may declare. */
  constructor(private maxLength = 0xffff_ffff) {}

  /** Read from `buf`, at `pos`. */
  reset(buf: Buffer, pos = 0): void {
    this.buf = buf;
    this.pos = pos;
  }

  /** Whether a whole value may follow (some bytes are left). */
  get more(): boolean {
    return this.pos < this.buf.length;
  }

  /** The next value; throws Incomplete where the buffer ends first. */
  value(): unknown {
    const t = this.byte();
    if (t < 0x80) return t;
    if (t < 0x90) return this.map(t & 0x0f);
    if (t < 0xa0) return this.array(t & 0x0f);
    if (t < 0xc0) return this.str(t & 0x1f);
    if (t >= 0xe0) return t - 0x100;
    const b = this.buf;
    switch (t) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.bin(this.length(1));
      case 0xc5:
        return this.bin(this.length(2));
      case 0xc6:
        return this.bin(this.length(4));
      case 0xc7:
        return this.ext(this.length(1));
      case 0xc8:
        return this.ext(this.length(2));
      case 0xc9:
        return this.ext(this.length(4));
      case 0xca:
        return b.readFloatBE(this.take(4));
      case 0xcb:
        return b.readDoubleBE(this.take(8));
      case 0xcc:
        return this.uint(1);
      case 0xcd:
        return this.uint(2);
      case 0xce:
        return this.uint(4);
      case 0xcf:
        return Number(b.readBigUInt64BE(this.take(8)));
      case 0xd0:
        return b.readInt8(this.take(1));
      case 0xd1:
        return b.readInt16BE(this.take(2));
      case 0xd2:
        return b.readInt32BE(this.take(4));
      case 0xd3:
        return Number(b.readBigInt64BE(this.take(8)));
      case 0xd4:
        return this.ext(1);
      case 0xd5:
        return this.ext(2);
      case 0xd6:
        return this.ext(4);
      case 0xd7:
        return this.ext(8);
      case 0xd8:
        return this.ext(16);
      case 0xd9:
        return this.str(this.length(1));
      case 0xda:
        return this.str(this.length(2));
      case 0xdb:
        return this.str(this.length(4));
      case 0xdc:
        return this.array(this.length(2));
      case 0xdd:
        return this.array(this.length(4));
      case 0xde:
        return this.map(this.length(2));
      case 0xdf:
        return this.map(this.length(4));
    }
    throw new Error(`not msgpack (type byte 0x${t.toString(16)})`);
  }

  /** Where `n` bytes start, having moved past them. */
  private take(n: number): number {
    const at = this.pos;
    if (at + n > this.buf.length) throw new Incomplete(at + n);
    this.pos = at + n;
    return at;
  }

  private byte(): number {
    return this.buf[this.take(1)]!;
  }

  private uint(n: 1 | 2 | 4): number {
    const at = this.take(n);
    return n === 1 ? this.buf[at]! : n === 2 ? this.buf.readUInt16BE(at) : this.buf.readUInt32BE(at);
  }

  /** A declared length, refused over the limit before any of it is read. */
  private length(n: 1 | 2 | 4): number {
    const len = this.uint(n);
    if (len > this.maxLength) throw new TooLarge(`a value of ${len} was declared, over the limit of ${this.maxLength}`);
    return len;
  }

  private str(n: number): string {
    const at = this.take(n);
    if (n > CACHED_MAX) return this.buf.toString('utf8', at, at + n);
    const b = this.buf;
    const slot = (n * 31 + b[at]! * 7 + b[at + n - 1]!) & (CACHE_SLOTS - 1);
    const known = this.strings[slot];
    if (known !== undefined && known.length === n) {
      let i = 0;
      while (i < n && known.charCodeAt(i) === b[at + i]) i++;
      if (i === n) return known;
    }
    const s = b.toString('utf8', at, at + n);
    // Only a string of one character per byte is kept: ASCII, whose codes are its bytes (a byte
    // not valid UTF-8 becomes U+FFFD, which equals no byte, so such a string is never matched).
    if (s.length === n) this.strings[slot] = s;
    return s;
  }

  private bin(n: number): Buffer {
    const at = this.take(n);
    return this.buf.subarray(at, at + n);
  }

  private ext(n: number): unknown {
    const type = this.byte();
    const at = this.take(n);
    if (type === 0 && n === 8) return { epoch: this.buf.readUInt32BE(at), nano: this.buf.readUInt32BE(at + 4) };
    return this.buf.subarray(at, at + n);
  }

  private array(n: number): unknown[] {
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) out.push(this.value());
    return out;
  }

  private map(n: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const key = String(this.value());
      // Set as a property, `__proto__` would replace the record's prototype.
      if (key === '__proto__') throw new Error('a map has the key __proto__');
      out[key] = this.value();
    }
    return out;
  }
}
