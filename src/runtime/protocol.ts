/**
 * The data request: what the gateway sends through a Flow and returns to clients, in Jina 2's
 * HTTP shape (protobuf JSON of a data request: camelCase keys); between the runtime's own
 * processes the same request travels as a frame, its tensors as bytes.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { Decoder, Encoder } from '@msgpack/msgpack';
import type { DocumentData } from './document.ts';
import { type Batch, fromBatch, type Piece, piecesAsBytes, sizeOf, toBatch } from './frame.ts';

export const SUCCESS = 0;
export const ERROR = 3;

export interface Status {
  code: number;
  description: string;
  exception?: { name: string; args: string[]; stacks: string[]; executor: string };
}

export interface Route {
  pod: string;
  podId: string;
  startTime: string;
  endTime?: string;
  status?: Status;
}

export interface DataRequest {
  requestId: string;
  header: { execEndpoint: string; targetPeapod?: string };
  parameters: Record<string, unknown>;
  routes: Route[];
  status: Status;
  data: { docs: DocumentData[]; groundtruths?: DocumentData[] };
  /** Inside a Flow only: at a join, the documents of each incoming branch. */
  docsMatrix?: DocumentData[][];
}

export function newRequest(opts: { endpoint: string; docs?: DocumentData[]; parameters?: Record<string, unknown>; targetPeapod?: string; requestId?: string }): DataRequest {
  return {
    requestId: opts.requestId ?? randomUUID(),
    header: { execEndpoint: opts.endpoint, ...(opts.targetPeapod ? { targetPeapod: opts.targetPeapod } : {}) },
    parameters: opts.parameters ?? {},
    routes: [],
    status: { code: SUCCESS, description: '' },
    data: { docs: opts.docs ?? [] },
  };
}

/**
 * A deep copy of a request (or any part of one) for a branch or a join to change: its plain values
 * copied, tensors' bytes shared, not copied (nothing writes into them; structuredClone would copy
 * each and lose what they are, Bytes).
 */
export function cloneRequest<T>(x: T): T {
  if (Array.isArray(x)) return x.map(cloneRequest) as T;
  if (x === null || typeof x !== 'object' || ArrayBuffer.isView(x)) return x;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(x)) out[k] = cloneRequest(v);
  return out as T;
}

/** The status of a request an executor failed on: its message and stack, named after the executor. */
export function errorStatus(err: unknown, executor: string): Status {
  const e = err instanceof Error ? err : new Error(String(err));
  return {
    code: ERROR,
    description: `${executor}: ${e.name}: ${e.message}`,
    exception: { name: e.name, args: [e.message], stacks: (e.stack ?? '').split('\n'), executor },
  };
}

const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder();

/**
 * The runtime's own processes (gateway, heads, Peas) send data requests as frames: a 4-byte
 * little-endian length of the header, the header (the request with batches for its document
 * lists, see frame.ts, and `blobs`: the blobs' sizes), then the blobs in order.
 */
export const FRAME_TYPE = 'application/x-jinad-frame';

/** A data request whose document lists are batches (frame.ts): a frame's header, read or to write. */
export type FramedRequest = Omit<DataRequest, 'data' | 'docsMatrix'> & { data: { docs?: Batch; groundtruths?: Batch }; docsMatrix?: Batch[] };
/** A frame with its header read and its documents not: the blobs are views of the frame (or a blob's parts). */
export interface RawFrame {
  request: FramedRequest;
  blobs: Uint8Array[][];
}

/** A request as a frame not yet written: its document lists as batches, their tensors as blobs (base64 decoded into one buffer). */
export function toRawFrame(req: DataRequest): RawFrame {
  const pieces: Piece[][] = [];
  const request: FramedRequest = {
    ...req,
    data: { ...req.data, docs: toBatch(req.data.docs ?? [], pieces), groundtruths: req.data.groundtruths && toBatch(req.data.groundtruths, pieces) },
    docsMatrix: req.docsMatrix?.map((docs) => toBatch(docs, pieces)),
  };
  return { request, blobs: piecesAsBytes(pieces) };
}

/** A read frame's request with its documents decoded: tensors are Bytes views of its blobs. */
export function fromRawFrame({ request, blobs }: RawFrame): DataRequest {
  const parts = blobs as Buffer[][];
  const docs = (b: Batch | undefined) => (b ? fromBatch(b, parts) : undefined);
  const data = request.data ?? {};
  const { docsMatrix, ...rest } = request;
  return {
    ...rest,
    data: { ...data, docs: docs(data.docs) ?? [], ...(data.groundtruths ? { groundtruths: docs(data.groundtruths) } : {}) },
    ...(docsMatrix ? { docsMatrix: docsMatrix.map((b) => docs(b)!) } : {}),
  } as DataRequest;
}

/** A frame's parts to write (the tensors are not copied into one buffer). */
export function frameParts({ request, blobs }: RawFrame): Uint8Array[] {
  const header = encoder.encode({ request, blobs: blobs.map(sizeOf) });
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32LE(header.byteLength, 0);
  return [head, header, ...blobs.flat().filter((b) => b.byteLength)];
}

/** An HTTP frame's header read; its blobs are views of `body`. A frame that does not add up is an error. */
export function readFrame(body: Buffer): RawFrame {
  if (body.length < 4) throw new Error('a frame needs its header length');
  const size = body.readUInt32LE(0);
  if (4 + size > body.length) throw new Error('a frame shorter than its header');
  const { request, blobs: sizes } = decoder.decode(body.subarray(4, 4 + size)) as { request: FramedRequest; blobs: number[] };
  if (!request || typeof request !== 'object' || !request.header || !request.status || !Array.isArray(request.routes)) throw new Error('a frame whose header is not a data request');
  const blobs: Buffer[][] = [];
  let at = 4 + size;
  for (const n of sizes ?? []) {
    if (at + n > body.length) throw new Error('a frame shorter than its tensors');
    blobs.push([body.subarray(at, (at += n))]);
  }
  return { request, blobs };
}

/** A data request as an HTTP frame's parts. */
export const encodeFrame = (req: DataRequest): Uint8Array[] => frameParts(toRawFrame(req));
/** An HTTP frame's data request: tensors are Bytes views of `body`. */
export const decodeFrame = (body: Buffer): DataRequest => fromRawFrame(readFrame(body));

/** A data request as an HTTP body: a frame (tensors as bytes) or JSON (tensors as base64); its parts and headers. */
export function requestBody(req: DataRequest, framed: boolean): { parts: Uint8Array[]; headers: Record<string, string | number> } {
  const parts = oneIfSmall(framed ? encodeFrame(req) : [Buffer.from(JSON.stringify(req))]);
  return { parts, headers: { 'content-type': framed ? FRAME_TYPE : 'application/json', 'content-length': sizeOf(parts) } };
}

/** A small body goes as one buffer: one write, one segment (its parts are copied only when that is cheap). */
const oneIfSmall = (parts: Uint8Array[]): Uint8Array[] => (parts.length > 1 && sizeOf(parts) <= 64 * 1024 ? [Buffer.concat(parts)] : parts);

/**
 * A body's parts, then its end: one `end(body)` for one part (the request or answer leaves with its
 * headers in one write), else written as they are, corked (a frame's tensors are not joined first).
 */
export function endWith(stream: NodeJS.WritableStream & { cork(): void; uncork(): void }, parts: Uint8Array[]): void {
  if (parts.length === 1) return void stream.end(parts[0]);
  stream.cork();
  for (const p of parts) stream.write(p);
  stream.uncork();
  stream.end();
}

/**
 * The server side of the protocol between a gateway and a Pea (or a Pod's head): `POST /` with
 * a data request (a frame, or JSON) answers the processed request in the same form; `GET /`
 * describes the server. With `relay`, a frame is handled as it came, its documents not decoded
 * (a Python Pea's), and `handle` takes JSON only. A request that cannot be handled answers
 * `failStatus` with the reason as text.
 */
export function requestServer(opts: {
  describe: () => object;
  handle: (req: DataRequest) => Promise<DataRequest>;
  relay?: (frame: RawFrame) => Promise<RawFrame>;
  failStatus: number;
}): http.Server {
  const answer = async (body: Buffer, framed: boolean): Promise<Uint8Array[]> => {
    if (framed && opts.relay) return frameParts(await opts.relay(readFrame(body)));
    const req = framed ? decodeFrame(body) : (JSON.parse(body.toString('utf8')) as DataRequest);
    return requestBody(await opts.handle(req), framed).parts;
  };
  return http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(opts.describe()));
      return;
    }
    const chunks: Buffer[] = [];
    const framed = req.headers['content-type'] === FRAME_TYPE;
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      try {
        const parts = oneIfSmall(await answer(Buffer.concat(chunks), framed));
        endWith(res.writeHead(200, { 'content-type': framed ? FRAME_TYPE : 'application/json', 'content-length': sizeOf(parts) }), parts);
      } catch (err) {
        res.writeHead(opts.failStatus, { 'content-type': 'text/plain' }).end(String((err as Error)?.message ?? err));
      }
    });
  });
}
