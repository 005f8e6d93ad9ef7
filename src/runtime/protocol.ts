/**
 * The data request: what the gateway sends through a Flow and returns to clients, in Jina 2's
 * HTTP shape (protobuf JSON of a data request: camelCase keys).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { DocumentData } from './document.ts';

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

/** The status of a request an executor failed on: its message and stack, named after the executor. */
export function errorStatus(err: unknown, executor: string): Status {
  const e = err instanceof Error ? err : new Error(String(err));
  return {
    code: ERROR,
    description: `${executor}: ${e.name}: ${e.message}`,
    exception: { name: e.name, args: [e.message], stacks: (e.stack ?? '').split('\n'), executor },
  };
}

/**
 * The server side of the protocol between a gateway and a Pea (or a Pod's head): `POST /` with
 * a data request answers the processed request; `GET /` describes the server. A request that
 * cannot be handled answers `failStatus` with the reason as text.
 */
export function requestServer(opts: { describe: () => object; handle: (req: DataRequest) => Promise<DataRequest>; failStatus: number }): http.Server {
  return http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(opts.describe()));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      try {
        const out = JSON.stringify(await opts.handle(JSON.parse(Buffer.concat(chunks).toString('utf8')) as DataRequest));
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) }).end(out);
      } catch (err) {
        res.writeHead(opts.failStatus, { 'content-type': 'text/plain' }).end(String((err as Error)?.message ?? err));
      }
    });
  });
}
