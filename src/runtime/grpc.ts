/**
 * The gRPC gateway (`protocol: grpc`, Jina 2's own): the `jina.JinaRPC/Call` bidirectional
 * stream of jina.proto, so Jina 2's clients (and stubs generated from its .proto in any
 * language) talk to a Flow unchanged. Each request of the stream goes through the Flow as a
 * data request of the HTTP gateway does, and its answer is written back as soon as it is done
 * (answers may overtake each other; clients match them by `request_id`). Loaded only by Flows
 * that ask for it. Uses @grpc/grpc-js and @grpc/proto-loader with this runtime's jina.proto.
 */
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { DocumentData, NamedScore } from './document.ts';
import { handedPort } from './handed-ports.ts';
import { type FlowMetrics, observeRequest } from './metrics.ts';
import type { RequestLog } from './request-log.ts';
import { Bytes, bytesOf, type DenseTensor, encodeDense, isDense } from './tensor.ts';
import { type DataRequest, ERROR, newRequest, type Route, type Status } from './protocol.ts';
import { runtimeFile } from './version.ts';

type Process = (req: DataRequest) => Promise<DataRequest>;
type Obj = Record<string, any>;

const PROTO = fileURLToPath(runtimeFile('jina.proto'));

/** The jina.JinaRPC service definition, loaded once. */
let service: grpc.ServiceDefinition | undefined;
function jinaRpc(): grpc.ServiceDefinition {
  if (!service) {
    const def = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, enums: Number, defaults: false, oneofs: true });
    service = (grpc.loadPackageDefinition(def).jina as Obj).JinaRPC.service as grpc.ServiceDefinition;
  }
  return service;
}

// google.protobuf.Struct / Value ↔ plain JSON values (protobufjs names the well-known types' fields in camelCase, keepCase or not).
function fromValue(v: Obj | undefined): unknown {
  if (!v) return null;
  if ('stringValue' in v) return v.stringValue;
  if ('numberValue' in v) return v.numberValue;
  if ('boolValue' in v) return v.boolValue;
  if ('structValue' in v) return fromStruct(v.structValue);
  if ('listValue' in v) return ((v.listValue?.values ?? []) as Obj[]).map(fromValue);
  return null;
}
export function fromStruct(s: Obj | undefined | null): Record<string, unknown> {
  return Object.fromEntries(Object.entries((s?.fields ?? {}) as Record<string, Obj>).map(([k, v]) => [k, fromValue(v)]));
}
function toValue(x: unknown): Obj {
  if (x === null || x === undefined) return { nullValue: 0 };
  if (typeof x === 'string') return { stringValue: x };
  if (typeof x === 'number') return { numberValue: x };
  if (typeof x === 'boolean') return { boolValue: x };
  if (Array.isArray(x)) return { listValue: { values: x.map(toValue) } };
  if (typeof x === 'object') return { structValue: toStruct(x as Record<string, unknown>) };
  return { stringValue: String(x) };
}
export function toStruct(o: Record<string, unknown>): Obj {
  return { fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, toValue(v)])) };
}

// NdArrayProto (dense) ↔ the runtime's dense tensors: bytes, shape and dtype as they are (number lists go as float64).
function fromNdArray(a: Obj | undefined): DenseTensor | undefined {
  const dense = a?.dense as Obj | undefined;
  if (!dense?.buffer) return undefined;
  return { dense: { buffer: Bytes.view(dense.buffer as Buffer), shape: dense.shape?.length ? (dense.shape as number[]) : [], dtype: String(dense.dtype || 'float32') } };
}
function toNdArray(t: number[] | DenseTensor): Obj {
  if (isDense(t)) return { dense: { buffer: bytesOf(t), shape: t.dense.shape ?? [], dtype: t.dense.dtype } };
  return { dense: encodeDense(t) };
}

const fromScores = (m: Obj | undefined) =>
  m && Object.keys(m).length ? Object.fromEntries(Object.entries(m).map(([k, s]) => [k, { value: s.value ?? 0, opName: s.op_name, description: s.description, refId: s.ref_id } as NamedScore])) : undefined;
const toScores = (m: Record<string, NamedScore> | undefined) =>
  Object.fromEntries(Object.entries(m ?? {}).map(([k, s]) => [k, { value: s.value, op_name: s.opName ?? '', description: s.description ?? '', ref_id: s.refId ?? '' }]));

/** A DocumentProto (as proto-loader decodes it) → the runtime's document JSON. */
export function fromDocProto(d: Obj): DocumentData {
  const out: DocumentData = { id: d.id || undefined };
  if (d.text) out.text = d.text;
  if (d.buffer?.length) out.buffer = Buffer.from(d.buffer).toString('base64');
  if (d.uri) out.uri = d.uri;
  if (d.mime_type) out.mimeType = d.mime_type;
  if (d.parent_id) out.parentId = d.parent_id;
  if (d.modality) out.modality = d.modality;
  for (const k of ['granularity', 'adjacency', 'weight', 'offset'] as const) if (d[k]) out[k] = d[k];
  if (d.location?.length) out.location = d.location;
  if (d.tags) out.tags = fromStruct(d.tags);
  const blob = fromNdArray(d.blob);
  if (blob) out.blob = blob;
  const embedding = fromNdArray(d.embedding);
  if (embedding) out.embedding = embedding;
  if (d.chunks?.length) out.chunks = d.chunks.map(fromDocProto);
  if (d.matches?.length) out.matches = d.matches.map(fromDocProto);
  const scores = fromScores(d.scores);
  if (scores) out.scores = scores;
  const evaluations = fromScores(d.evaluations);
  if (evaluations) out.evaluations = evaluations;
  return out;
}

/** The runtime's document JSON → a DocumentProto. */
export function toDocProto(d: DocumentData): Obj {
  const out: Obj = { id: d.id ?? '' };
  // One content field on the wire (a oneof, as in Jina's Document): text, else buffer, blob, uri.
  if (d.text !== undefined) out.text = d.text;
  else if (d.buffer !== undefined) out.buffer = Buffer.from(d.buffer, 'base64');
  else if (d.blob) out.blob = toNdArray(d.blob);
  else if (d.uri !== undefined) out.uri = d.uri;
  if (d.tags) out.tags = toStruct(d.tags);
  if (d.mimeType) out.mime_type = d.mimeType;
  if (d.parentId) out.parent_id = d.parentId;
  if (d.modality) out.modality = d.modality;
  for (const k of ['granularity', 'adjacency', 'weight', 'offset'] as const) if (d[k] !== undefined) out[k] = d[k];
  if (d.location) out.location = d.location;
  if (d.embedding) out.embedding = toNdArray(d.embedding);
  if (d.chunks?.length) out.chunks = d.chunks.map(toDocProto);
  if (d.matches?.length) out.matches = d.matches.map(toDocProto);
  if (d.scores) out.scores = toScores(d.scores);
  if (d.evaluations) out.evaluations = toScores(d.evaluations);
  return out;
}

const toTimestamp = (iso?: string) => {
  const ms = iso ? Date.parse(iso) : Date.now();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
};
const toStatus = (s: Status): Obj => ({ code: s.code, description: s.description, ...(s.exception && { exception: s.exception }) });
const toRoute = (r: Route): Obj => ({ pod: r.pod, pod_id: r.podId, start_time: toTimestamp(r.startTime), ...(r.endTime && { end_time: toTimestamp(r.endTime) }), ...(r.status && { status: toStatus(r.status) }) });

/** A RequestProto from a client → a data request through the Flow. */
export function fromRequestProto(r: Obj): DataRequest {
  const req = newRequest({
    endpoint: r.header?.exec_endpoint || '/',
    docs: ((r.data?.docs ?? []) as Obj[]).map(fromDocProto),
    parameters: fromStruct(r.parameters),
    targetPeapod: r.header?.target_peapod || undefined,
    requestId: r.request_id || undefined,
  });
  if (r.data?.groundtruths?.length) req.data.groundtruths = (r.data.groundtruths as Obj[]).map(fromDocProto);
  return req;
}

/** A data request's answer → the RequestProto written back. */
export function toRequestProto(req: DataRequest): Obj {
  return {
    request_id: req.requestId,
    header: { exec_endpoint: req.header.execEndpoint, ...(req.header.targetPeapod && { target_peapod: req.header.targetPeapod }) },
    parameters: toStruct(req.parameters ?? {}),
    routes: req.routes.map(toRoute),
    status: toStatus(req.status),
    data: { docs: req.data.docs.map(toDocProto), ...(req.data.groundtruths && { groundtruths: req.data.groundtruths.map(toDocProto) }) },
  };
}

export class GrpcGateway {
  private server?: grpc.Server;
  /** The handed-over listener whose connections the server is given. */
  private injected?: net.Server;
  port?: number;

  constructor(
    private process: Process,
    private opts: { requestLog?: RequestLog; metrics?: FlowMetrics } = {},
  ) {}

  /** One request of a stream through the Flow; a request that cannot be read is answered with an ERROR status, as Jina does. */
  private async answer(raw: Obj): Promise<Obj> {
    const t0 = performance.now();
    let req: DataRequest;
    try {
      req = fromRequestProto(raw);
    } catch (err) {
      const bad = newRequest({ endpoint: raw.header?.exec_endpoint || '/', requestId: raw.request_id || undefined });
      bad.status = { code: ERROR, description: `the request could not be read: ${(err as Error).message}` };
      return toRequestProto(bad);
    }
    const out = await this.process(req);
    observeRequest(this.opts, req, out, t0, 'gRPC Call');
    return toRequestProto(out);
  }

  async listen(port: number, host: string): Promise<number> {
    const server = new grpc.Server({ 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
    server.addService(jinaRpc(), {
      Call: (call: grpc.ServerDuplexStream<Obj, Obj>) => {
        let pending = 0;
        let ended = false;
        const settle = () => ended && pending === 0 && call.end();
        call.on('data', (raw: Obj) => {
          pending++;
          this.answer(raw)
            .then((out) => call.write(out))
            .catch((err: Error) => call.destroy(err))
            .finally(() => {
              pending--;
              settle();
            });
        });
        call.on('end', () => {
          ended = true;
          settle();
        });
        call.on('error', () => undefined); // the client went away
      },
    });
    this.server = server;
    // A port the daemon handed over (a container's published one): its connections are given to the server as they come.
    const handed = await handedPort(port);
    if (handed) {
      const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
      this.injected = net.createServer((socket) => injector.injectConnection(socket));
      await new Promise<void>((resolve) => this.injected!.listen(handed, resolve));
      this.port = port;
      return port;
    }
    return new Promise((resolve, reject) => {
      server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
        if (err) return reject(new Error(`the gRPC gateway cannot listen on ${host}:${port}: ${err.message}`));
        this.port = bound;
        resolve(bound);
      });
    });
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.injected?.close();
    await new Promise<void>((resolve) => s.tryShutdown(() => resolve()));
  }
}
