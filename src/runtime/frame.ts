/**
 * Documents for frames: their tensors as raw bytes after a msgpack header, never base64 and never
 * lists of floats. A list of documents is a batch; a field every document of it has as a tensor
 * of one dtype and shape (embeddings of one model) goes as one column: one blob, a row per
 * document. The documents themselves are msgpack bytes inside the header, decoded only by whoever
 * reads them: a Python Pea hands its worker the batch as it came and sends on what the worker
 * answered, never making the documents into objects (python.ts). Used between a Pea and its
 * Python worker and over HTTP between the runtime's own processes (protocol.ts), so tensors cross
 * every inner hop as bytes and become base64 only where JSON leaves the Flow.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import type { DocumentData } from './document.ts';
import { Bytes } from './tensor.ts';

type Dense = { dense?: { buffer: unknown; shape?: unknown; dtype?: unknown } };
/** A tensor's bytes for a frame: base64 (from a JSON hop) or bytes. */
export type Piece = string | Uint8Array;
/** A column: every document's `field` is a row of blob `blob`. */
export interface Column {
  blob: number;
  shape: number[];
  dtype: string;
}
/** A list of documents in a frame. */
export interface Batch {
  /** The documents (msgpack), their tensors named by blob index or in `cols`. */
  docs?: Uint8Array;
  /** How many. */
  n?: number;
  /** Blobs [from, to) the documents name one by one (tensors not in a column, chunks' and matches'). */
  span?: [number, number];
  /** In a Python worker's answer: the documents are those sent, unchanged, but for the columns it carries. */
  same?: boolean;
  cols?: Record<string, Column>;
}
const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder();
const TENSORS = ['embedding', 'blob'] as const;
const isPiece = (b: unknown): b is Piece => typeof b === 'string' || b instanceof Uint8Array;
const pieceBytes = (p: Piece) => (typeof p === 'string' ? Buffer.byteLength(p, 'base64') : p.byteLength);

/** The pieces of a column when every document has `key` dense, of one dtype, shape and size. */
function columnOf(docs: DocumentData[], key: (typeof TENSORS)[number]): { pieces: Piece[]; shape: number[]; dtype: string } | undefined {
  const first = (docs[0]?.[key] as Dense | undefined)?.dense;
  if (!first || !isPiece(first.buffer) || typeof first.dtype !== 'string' || !Array.isArray(first.shape) || !first.shape.length) return undefined;
  const shape = first.shape.join(',');
  const size = pieceBytes(first.buffer);
  const pieces: Piece[] = [];
  for (const d of docs) {
    const t = (d[key] as Dense | undefined)?.dense;
    if (!t || !isPiece(t.buffer) || t.dtype !== first.dtype || !Array.isArray(t.shape) || t.shape.join(',') !== shape || pieceBytes(t.buffer) !== size) return undefined;
    pieces.push(t.buffer);
  }
  return { pieces, shape: first.shape as number[], dtype: first.dtype };
}

/** Documents for the frame: their tensors moved to `blobs` (a column's pieces as one blob), named by index; the request is not changed. */
export function toBatch(docs: DocumentData[], blobs: Piece[][]): Batch {
  const cols: Batch['cols'] = {};
  for (const key of TENSORS) {
    const col = columnOf(docs, key);
    if (!col) continue;
    blobs.push(col.pieces);
    cols[key] = { blob: blobs.length - 1, shape: col.shape, dtype: col.dtype };
  }
  const from = blobs.length;
  const wire = encoder.encode(docs.map((d) => toWire(d, blobs, cols)));
  return { docs: wire, n: docs.length, span: [from, blobs.length], ...(Object.keys(cols).length ? { cols } : {}) };
}

function toWire(d: DocumentData, blobs: Piece[][], inColumns: object = {}): DocumentData {
  let out: Record<string, unknown> | undefined;
  const set = (k: string, v: unknown) => ((out ??= { ...d })[k] = v);
  for (const key of TENSORS) {
    if (key in inColumns) {
      set(key, undefined); // in the batch's column
      continue;
    }
    const dense = (d[key] as Dense | undefined)?.dense;
    if (!dense || !isPiece(dense.buffer)) continue;
    blobs.push([dense.buffer]);
    set(key, { dense: { ...dense, buffer: blobs.length - 1 } });
  }
  for (const key of ['chunks', 'matches'] as const) if (Array.isArray(d[key]) && d[key]!.length) set(key, d[key]!.map((c) => toWire(c, blobs)));
  return (out ?? d) as DocumentData;
}

/** The documents of a frame: tensors named by index or in columns, as Bytes views of the bytes that came (base64 only if a JSON hop serialises them). */
export function fromBatch(batch: Batch, blobs: Buffer[][]): DocumentData[] {
  const docs = (batch.docs ? decoder.decode(batch.docs) : []) as Record<string, unknown>[];
  if (!Array.isArray(docs)) throw new Error('a batch whose documents are not a list');
  for (const [key, col] of Object.entries(batch.cols ?? {})) {
    const parts = blobs[col.blob];
    const size = parts ? sizeOf(parts) : 0;
    if (!parts || !docs.length || size % docs.length) throw new Error(`a column of ${key} (${size} bytes) that does not divide into its ${docs.length} document(s)`);
    const row = size / docs.length;
    let [part, at] = [0, 0]; // where the next row starts
    for (const d of docs) {
      let bytes: Bytes;
      const p = parts[part]!;
      if (at + row <= p.byteLength) {
        bytes = new Bytes(p.buffer as ArrayBuffer, p.byteOffset + at, row);
        at += row;
      } else [bytes, part, at] = joinRow(parts, part, at, row); // the one copy: a row across two chunks
      if (at === parts[part]?.byteLength && part < parts.length - 1) [part, at] = [part + 1, 0];
      d[key] = { dense: { buffer: bytes, shape: col.shape, dtype: col.dtype } };
    }
  }
  return docs.map((d) => fromWire(d, blobs));
}

/** `n` bytes from chunk `part` at `at` on, across chunks: copied into one buffer; and where the next row starts. */
function joinRow(parts: Buffer[], part: number, at: number, n: number): [Bytes, number, number] {
  const out = new Bytes(n);
  for (let got = 0; got < n; ) {
    const k = Math.min(n - got, parts[part]!.byteLength - at);
    out.set(parts[part]!.subarray(at, at + k), got);
    got += k;
    at += k;
    if (at === parts[part]!.byteLength && got < n) [part, at] = [part + 1, 0];
  }
  return [out, part, at];
}

export const joined = (parts: Buffer[]) => (parts.length === 1 ? parts[0]! : Buffer.concat(parts));

function fromWire(d: Record<string, unknown>, blobs: Buffer[][]): DocumentData {
  for (const key of TENSORS) {
    const dense = (d[key] as Dense | undefined)?.dense;
    if (dense && typeof dense.buffer === 'number') {
      const parts = blobs[dense.buffer];
      if (!parts) throw new Error(`a tensor in blob ${dense.buffer}, which the frame does not have`);
      dense.buffer = Bytes.view(joined(parts));
    } else if (dense && dense.buffer instanceof Uint8Array && !(dense.buffer instanceof Bytes)) dense.buffer = Bytes.view(dense.buffer);
  }
  if (d.buffer instanceof Uint8Array) d.buffer = Buffer.from(d.buffer.buffer, d.buffer.byteOffset, d.buffer.byteLength).toString('base64'); // a document's `buffer` is base64 text to Executors
  for (const key of ['chunks', 'matches'] as const) if (Array.isArray(d[key])) for (const c of d[key] as Record<string, unknown>[]) fromWire(c, blobs);
  return d as DocumentData;
}

/** The bytes of a blob's parts together. */
export const sizeOf = (parts: Uint8Array[]) => parts.reduce((n, p) => n + p.byteLength, 0);

/** Blobs' pieces as bytes: base64 decoded into one buffer for all of them, bytes as they are. */
export function piecesAsBytes(blobs: Piece[][]): Uint8Array[][] {
  let size = 0;
  for (const b of blobs) for (const p of b) if (typeof p === 'string') size += (p.length * 3) >> 2;
  if (!size) return blobs as Uint8Array[][];
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  const bytes = (p: Piece) => {
    if (typeof p !== 'string') return p;
    const n = buf.write(p, at, 'base64');
    return buf.subarray(at, (at += n));
  };
  return blobs.map((b) => b.map(bytes));
}

/** Add to `into` the blobs a batch's documents name: its span and its columns. */
export function namedBlobs(batch: Batch | undefined, into: Set<number>): void {
  if (!batch) return;
  const [from, to] = batch.span ?? [0, 0];
  for (let i = from; i < to; i++) into.add(i);
  for (const c of Object.values(batch.cols ?? {})) into.add(c.blob);
}
