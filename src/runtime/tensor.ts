/**
 * Tensors (a document's `embedding` and `blob`) as they cross the runtime: Jina 2's dense form
 * `{ dense: { buffer, shape, dtype } }` (in JSON the buffer is base64; numpy's dtype spelling,
 * '<f4' or 'float32'), so dtype and shape survive every hop, or a plain number list, which
 * TypeScript executors and JSON clients may use. TypeScript executors read number lists.
 */
export interface DenseTensor {
  dense: { buffer: string | Uint8Array; shape: number[]; dtype: string };
}

const DTYPES: Record<string, { size: number; read: (b: Buffer, at: number) => number; write: (b: Buffer, x: number, at: number) => void }> = {
  float32: { size: 4, read: (b, at) => b.readFloatLE(at), write: (b, x, at) => b.writeFloatLE(x, at) },
  float64: { size: 8, read: (b, at) => b.readDoubleLE(at), write: (b, x, at) => b.writeDoubleLE(x, at) },
  int8: { size: 1, read: (b, at) => b.readInt8(at), write: (b, x, at) => b.writeInt8(x, at) },
  uint8: { size: 1, read: (b, at) => b.readUInt8(at), write: (b, x, at) => b.writeUInt8(x, at) },
  int16: { size: 2, read: (b, at) => b.readInt16LE(at), write: (b, x, at) => b.writeInt16LE(x, at) },
  uint16: { size: 2, read: (b, at) => b.readUInt16LE(at), write: (b, x, at) => b.writeUInt16LE(x, at) },
  int32: { size: 4, read: (b, at) => b.readInt32LE(at), write: (b, x, at) => b.writeInt32LE(x, at) },
  uint32: { size: 4, read: (b, at) => b.readUInt32LE(at), write: (b, x, at) => b.writeUInt32LE(x, at) },
  int64: { size: 8, read: (b, at) => Number(b.readBigInt64LE(at)), write: (b, x, at) => b.writeBigInt64LE(BigInt(Math.round(x)), at) },
};
const NUMPY: Record<string, string> = { f4: 'float32', f8: 'float64', i1: 'int8', u1: 'uint8', i2: 'int16', u2: 'uint16', i4: 'int32', u4: 'uint32', i8: 'int64' };

function dtypeOf(name: string) {
  if (name.startsWith('>')) throw new Error(`big-endian arrays (dtype '${name}') are not supported`);
  const dtype = DTYPES[name] ?? DTYPES[NUMPY[name.replace(/^[<|=]/, '')] ?? ''];
  if (!dtype) throw new Error(`arrays of dtype '${name}' are not supported here (float32/64, int8/16/32/64, uint8/16/32)`);
  return dtype;
}

/**
 * Tensor bytes held as bytes inside a process (a view, not a copy); JSON, between processes,
 * carries them as base64, as Jina's JSON does.
 */
export class Bytes extends Uint8Array {
  static view(b: Uint8Array): Bytes {
    return new Bytes(b.buffer as ArrayBuffer, b.byteOffset, b.byteLength);
  }
  toJSON(): string {
    return Buffer.from(this.buffer, this.byteOffset, this.byteLength).toString('base64');
  }
}

export const isDense = (x: unknown): x is DenseTensor => typeof x === 'object' && x !== null && !Array.isArray(x) && typeof (x as DenseTensor).dense === 'object' && (x as DenseTensor).dense !== null;

export const bytesOf = (t: DenseTensor): Buffer => {
  const b = t.dense.buffer;
  return typeof b === 'string' ? Buffer.from(b, 'base64') : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
};

/** A dense tensor's values, flat, in order. */
export function decodeDense(t: DenseTensor): number[] {
  const dtype = dtypeOf(String(t.dense.dtype || 'float32'));
  const buf = bytesOf(t);
  return Array.from({ length: Math.floor(buf.length / dtype.size) }, (_, i) => dtype.read(buf, i * dtype.size));
}

/** Values as a dense tensor of this dtype and shape (default: float64, flat), its buffer as bytes. */
export function encodeDense(values: number[], dtypeName = 'float64', shape: number[] = [values.length]): { buffer: Buffer; shape: number[]; dtype: string } {
  const dtype = dtypeOf(dtypeName);
  const buf = Buffer.alloc(values.length * dtype.size);
  values.forEach((x, i) => dtype.write(buf, x, i * dtype.size));
  return { buffer: buf, shape, dtype: dtypeName };
}

/**
 * What to send of a tensor an executor may have read as numbers: the dense form it came as when
 * it was not read, re-encoded with its dtype and shape when it was (and still has as many values),
 * else the numbers.
 */
export function tensorOut(came: DenseTensor | undefined, values: number[] | undefined): DenseTensor | number[] | undefined {
  if (values === undefined) return came;
  if (!came) return values;
  const shape = came.dense.shape?.length ? came.dense.shape : [values.length];
  if (shape.reduce((a, b) => a * b, 1) !== values.length) return values;
  const d = encodeDense(values, came.dense.dtype, shape);
  return { dense: { buffer: d.buffer.toString('base64'), shape: d.shape, dtype: d.dtype } };
}
