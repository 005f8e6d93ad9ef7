/**
 * The gateway: Jina 2's HTTP API in front of a Flow. `GET /` and `/status`; `POST /post` with
 * `data`, `exec_endpoint`, `parameters`, `target_peapod`; the CRUD shortcuts (`POST /index`,
 * `POST /search`, `PUT /update`, `DELETE /delete`) and `expose_endpoints`. A WebSocket at
 * `/stream` (and at `/` when `protocol: websocket`) takes many requests over one connection,
 * answering each with its `requestId`.
 */
import type { AddressInfo } from 'node:net';
import { createAdaptorServer, type ServerType, upgradeWebSocket } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import { cors } from 'hono/cors';
import { WebSocketServer } from 'ws';
import type { FlowSpec } from './config.ts';
import type { DocumentData } from './document.ts';
import { handedPort } from './handed-ports.ts';
import { type DataRequest, newRequest } from './protocol.ts';
import { type FlowMetrics, observeRequest } from './metrics.ts';
import type { RequestLog } from './request-log.ts';
import { RUNTIME_VERSION } from './version.ts';

type Process = (req: DataRequest) => Promise<DataRequest>;

class BadRequest extends Error {}

/** A client's request body (snake_case or camelCase, as Jina 2 accepted) → a data request. */
export function toDataRequest(body: unknown, endpoint?: string): DataRequest {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new BadRequest('expected a JSON object with `data`');
  const b = body as Record<string, unknown>;
  const execEndpoint = endpoint ?? ((b.exec_endpoint ?? b.execEndpoint) as string | undefined);
  if (typeof execEndpoint !== 'string' || !execEndpoint) throw new BadRequest('`exec_endpoint` is required, e.g. "/index"');
  const data = b.data ?? [];
  const list = Array.isArray(data) ? data : Array.isArray((data as { docs?: unknown }).docs) ? (data as { docs: unknown[] }).docs : undefined;
  if (!list) throw new BadRequest('`data` must be a list of documents (objects or strings)');
  const docsOf = (items: unknown[], field: string) =>
    items.map((d, i) => {
      if (typeof d === 'string') return { text: d };
      if (d && typeof d === 'object' && !Array.isArray(d)) return d as DocumentData;
      throw new BadRequest(`${field}[${i}] must be a document object or a string`);
    });
  const docs = docsOf(list, 'data');
  // Groundtruths (Jina's evaluation input): beside `data`, or in it as `data.groundtruths`.
  const gts = b.groundtruths ?? (Array.isArray(data) ? undefined : (data as { groundtruths?: unknown }).groundtruths);
  if (gts !== undefined && !Array.isArray(gts)) throw new BadRequest('`groundtruths` must be a list of documents');
  const parameters = (b.parameters ?? {}) as Record<string, unknown>;
  if (typeof parameters !== 'object' || Array.isArray(parameters)) throw new BadRequest('`parameters` must be an object');
  const target = (b.target_peapod ?? b.targetPeapod) as string | undefined;
  if (target) {
    try {
      new RegExp(target);
    } catch {
      throw new BadRequest(`target_peapod '${target}' is not a valid regular expression`);
    }
  }
  const req = newRequest({ endpoint: execEndpoint, docs, parameters, targetPeapod: target, requestId: (b.request_id ?? b.requestId) as string | undefined });
  if (gts) req.data.groundtruths = docsOf(gts, 'groundtruths');
  return req;
}

export function gatewayStatus() {
  const envs = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('JINA')));
  const mb = (process.memoryUsage().rss / 1024 / 1024).toFixed(1);
  return { jina: { jina: RUNTIME_VERSION, 'jina-runtime': 'typescript', node: process.version }, envs, used_memory: `${mb} MB` };
}

export class Gateway {
  private server?: ServerType;
  port?: number;

  constructor(
    private spec: FlowSpec,
    private process: Process,
    private opts: { requestLog?: RequestLog; metrics?: FlowMetrics } = {},
  ) {}

  app(): Hono {
    const app = new Hono();
    if (this.spec.cors) app.use(cors());
    const run = async (c: Context, endpoint?: string) => {
      const t0 = performance.now();
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        body = endpoint ? {} : undefined;
        if (!endpoint) return c.json({ detail: 'expected a JSON body' }, 400);
      }
      let req: DataRequest;
      try {
        req = toDataRequest(body, endpoint);
      } catch (err) {
        return c.json({ detail: (err as Error).message }, 422);
      }
      const out = await this.process(req);
      observeRequest(this.opts, req, out, t0, `${c.req.method} ${c.req.path}`);
      return c.json(out);
    };

    const ws = upgradeWebSocket(() => ({
      onMessage: async (event, socket) => {
        let req: DataRequest;
        try {
          req = toDataRequest(JSON.parse(String(event.data)));
        } catch (err) {
          socket.send(JSON.stringify({ detail: (err as Error).message }));
          return;
        }
        socket.send(JSON.stringify(await this.process(req)));
      },
    }));
    app.get('/stream', ws);
    if (this.spec.protocol === 'websocket') app.get('/', ws);
    app.get('/', (c) => c.json(gatewayStatus()));
    app.get('/status', (c) => c.json(gatewayStatus()));
    const metrics = this.opts.metrics;
    if (metrics) app.get('/metrics', async (c) => c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }));
    app.post('/post', (c) => run(c));
    const routes: Record<string, { methods?: string[] }> = {
      '/index': { methods: ['POST'] },
      '/search': { methods: ['POST'] },
      '/update': { methods: ['PUT'] },
      '/delete': { methods: ['DELETE'] },
      ...this.spec.exposeEndpoints,
    };
    for (const [path, { methods }] of Object.entries(routes)) {
      app.on(methods ?? ['POST'], path, (c) => run(c, path));
    }
    app.onError((err, c) => c.json({ detail: err.message }, 500));
    return app;
  }

  async listen(port: number, host: string): Promise<number> {
    const server = createAdaptorServer({ fetch: this.app().fetch, websocket: { server: new WebSocketServer({ noServer: true }) } });
    this.server = server;
    // A port the daemon handed over (a container's published one) is listened on as it is.
    const handed = await handedPort(port);
    return new Promise((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`the gateway cannot listen on ${host}:${port}: ${err.message}`)));
      const listening = () => {
        this.port = handed ? port : (server.address() as AddressInfo).port;
        resolve(this.port);
      };
      if (handed) server.listen(handed, listening);
      else server.listen(port, host, listening);
    });
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      (s as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
    });
  }
}
