/**
 * The process of one Pea: loads one executor and serves data requests over HTTP/1.1 with
 * keep-alive on `host:port` (port 0: any free port). Tells its parent the port over IPC.
 * Stops on SIGTERM/SIGINT or a `close` message: in-flight requests finish, then `close()`.
 */
import type { AddressInfo } from 'node:net';
import type { ExecutorSpec } from './config.ts';
import { DocumentArray } from './document.ts';
import { handlerFor } from './executor.ts';
import { loadExecutor } from './loader.ts';
import { prestartPython, PythonError, PythonExecutor, pythonStatus, releasePython } from './python.ts';
import { type DataRequest, ERROR, errorStatus, type FramedRequest, fromRawFrame, type RawFrame, requestServer, toRawFrame } from './protocol.ts';

export interface PeaConfig {
  spec: ExecutorSpec;
  replicaId: number;
  replicas: number;
  shardId: number;
  shards: number;
  workspace: string;
  host: string;
  port: number;
  /**
   * Bundled runtime: the loader hooks (bootstrap.mjs) to register once the runtime itself is
   * loaded. Registered first, every runtime module would pass through them too (~0.27 s more).
   */
  loader?: string;
}

/** What a blank Pea becomes (prestart.mjs): the launch it is adopted for, with the environment it would have been started with. */
export interface Become {
  type: 'become';
  config: PeaConfig;
  env: Record<string, string>;
}

/**
 * A blank Pea (`JINAD_PEA_BLANK`, started by prestart.mjs before any object is known): the
 * runtime and the loader are loaded now, the executor once a parent adopts it and says which.
 */
async function blank(): Promise<PeaConfig> {
  // Listening first, then saying so: a message that comes before a listener is lost (pea.ts waits for `blank`).
  const told = new Promise<Become>((resolve) => {
    const onMessage = (m: Become) => {
      if (m?.type !== 'become') return;
      process.off('message', onMessage);
      resolve(m);
    };
    process.on('message', onMessage);
  });
  process.send?.({ type: 'blank' });
  prestartPython(); // in an image with Python: the interpreter and numpy loaded ahead too
  await import(new URL('./index.mjs', import.meta.url).href);
  await import(new URL('../bootstrap-container.mjs', import.meta.url).href);
  const become = await told;
  if (!(become.config.spec.uses.kind === 'class' && become.config.spec.uses.python)) releasePython();
  for (const key of Object.keys(process.env)) if (!(key in become.env)) delete process.env[key];
  Object.assign(process.env, become.env);
  return { ...become.config, loader: undefined }; // loaded above
}

const isBlank = Boolean(process.env.JINAD_PEA_BLANK);
const given = isBlank ? await blank() : (JSON.parse(process.env.JINAD_PEA ?? 'null') as PeaConfig | null);
if (!given) throw new Error('pea-worker: JINAD_PEA is not set');
const config: PeaConfig = given;
const send = (msg: unknown) => process.send?.(msg);
const name = `${config.spec.name}${config.shards > 1 ? `/shard-${config.shardId}` : ''}${config.replicas > 1 ? `/${config.replicaId}` : ''}`;

/**
 * A request's bookkeeping around `run`: a failed request passes through untouched; this Pea's
 * route, and on an error the request's status, set; a join's documents not sent on.
 */
async function served<R extends DataRequest | FramedRequest>(req: R, run: () => Promise<R>): Promise<R> {
  if (req.status.code === ERROR) return req;
  const route = { pod: name, podId: `${process.pid}`, startTime: new Date().toISOString() };
  try {
    req = await run();
    req.routes.push({ ...route, endTime: new Date().toISOString() });
  } catch (err) {
    req.status = err instanceof PythonError ? pythonStatus(err, name) : errorStatus(err, name);
    req.routes.push({ ...route, endTime: new Date().toISOString(), status: req.status });
    if (!(err instanceof PythonError)) console.error(`${name}: ${req.header.execEndpoint} failed: ${(err as Error)?.stack ?? err}`); // Python printed its own
  }
  delete req.docsMatrix;
  return req;
}

/** A TypeScript Executor's handler for the request's endpoint, with its documents as a DocumentArray. */
async function runTypeScript(req: DataRequest): Promise<DataRequest> {
  const handler = handlerFor(executor, req.header.execEndpoint, config.spec.usesRequests);
  if (!handler) return req;
  const docs = DocumentArray.from(req.data.docs);
  const out = await handler({
    docs,
    parameters: req.parameters ?? {},
    endpoint: req.header.execEndpoint,
    docsMatrix: req.docsMatrix?.map((m) => DocumentArray.from(m)),
  });
  const result = out === undefined || out === null ? docs : out instanceof DocumentArray ? out : Array.isArray(out) ? DocumentArray.from(out) : docs;
  req.data = { ...req.data, docs: result.toJSON() };
  return req;
}

/** A Python Executor's frame, relayed: its documents are Python's to decode. */
async function relayPython(frame: RawFrame): Promise<RawFrame> {
  let blobs = frame.blobs;
  const request = await served(frame.request, async () => {
    const out = await python!.relay(frame);
    blobs = out.blobs;
    return out.request;
  });
  return { request, blobs };
}

let executor: object;
/** The Executor when it is Python: run by a worker of its own (python.ts). */
let python: PythonExecutor | undefined;
let inflight = 0;
const server = requestServer({
  describe: () => ({ name, ready: true }),
  failStatus: 400,
  handle: (req) => counted(() => served(req, () => (python ? python.process(req).then(() => req) : runTypeScript(req)))),
  relay: (frame) => counted(async () => {
    if (python) return relayPython(frame);
    const req = fromRawFrame(frame); // a TypeScript Executor's documents are objects
    return toRawFrame(await served(req, () => runTypeScript(req)));
  }),
});

async function counted<T>(fn: () => Promise<T>): Promise<T> {
  inflight++;
  try {
    return await fn();
  } finally {
    inflight--;
  }
}

let closing = false;
async function shutdown(code = 0) {
  if (closing) return;
  closing = true;
  server.close();
  while (inflight > 0) await new Promise((r) => setTimeout(r, 5));
  server.closeAllConnections();
  try {
    await python?.close();
    await (executor as { close?: () => Promise<void> })?.close?.();
  } catch (err) {
    console.error(`${name}: close() failed: ${(err as Error).message}`);
  }
  process.exit(code);
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
process.on('message', (m) => m === 'close' && void shutdown());
process.on('disconnect', () => void shutdown()); // the parent is gone

try {
  if (config.loader) {
    await import(new URL('./index.mjs', import.meta.url).href); // what executors import as `jinad`, loaded natively
    await import(config.loader);
  }
  if (config.loader || isBlank) process.setSourceMapsEnabled(true); // an executor's errors point into its TypeScript
  const metas = { name: config.spec.name, workspace: config.workspace, replicaId: config.replicaId, replicas: config.replicas, shardId: config.shardId, shards: config.shards };
  if (config.spec.uses.kind === 'class' && config.spec.uses.python) python = await PythonExecutor.start(config.spec, metas, name);
  else executor = await loadExecutor(config.spec, metas);
  server.listen(config.port, config.host, () => send({ type: 'ready', port: (server.address() as AddressInfo).port }));
  server.on('error', (err) => {
    send({ type: 'error', message: `${name} cannot listen on ${config.host}:${config.port}: ${err.message}`, stack: err.stack });
    process.exit(1);
  });
} catch (err) {
  const e = err as Error;
  // A Python constructor's traceback is the stack to show (Python printed it already).
  send({ type: 'error', message: e instanceof PythonError ? `${e.message}\n${e.traceback}` : `${name}: ${e.message}`, stack: e instanceof PythonError ? e.traceback : e.stack });
  if (!(e instanceof PythonError)) console.error(`${name}: ${e.stack ?? e.message}`);
  process.exit(1);
}
