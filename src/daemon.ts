/**
 * The daemon: HTTP app, store, backend, jobs and plugins, wired together. It knows no resource
 * kind; every kind is a plugin, and where things run is the backend.
 *
 * Start-up, in order: plugins set up (routes, services) → `onStart` steps (a failure stops
 * start-up, naming the plugin) → live object states synced → `onReconcile` steps (store and
 * backend agree; a failure is logged and start-up goes on) → jobs resume → listen → base images
 * of other versions pruned → `onReady`. Close: stop serving, stop jobs (they resume next start), `onClose` in reverse.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import path from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { WebSocketServer } from 'ws';
import { hostGuard, setupAuth } from './auth/index.ts';
import { createBackend } from './backend/index.ts';
import type { Backend } from './backend/types.ts';
import { ConfigError, isLoopback, type JinadConfig } from './config.ts';
import { parseDaemonId } from './contract/ids.ts';
import { SECRET_NAME } from './contract/kv.ts';
import { describe } from './http/describe.ts';
import { boundedBodies } from './http/body-limit.ts';
import { errorResponse } from './http/errors.ts';
import { mountOpenApi } from './http/openapi.ts';
import { originGuard } from './http/origin.ts';
import { onClientError } from './http/oversize.ts';
import { JobRunner } from './jobs.ts';
import { LogFiles } from './logfiles.ts';
import { createLogger, type Logger } from './logger.ts';
import type { KindOwner, KindRegistry, PluginApi, Services } from './plugin/define.ts';
import { builtinPlugins, loadPlugins, orderPlugins, PluginError } from './plugin/loader.ts';
import { pluginOptions } from './plugin/options.ts';
import { createReplicaLedger, createStartSlots } from './objects/ledger.ts';
import { createMetrics, httpMetrics, measuredBackend } from './metrics/index.ts';
import { metricsRoutes } from './metrics/routes.ts';
import { createLiveStates } from './objects/live.ts';
import { openStore, type Store } from './store/db.ts';
import { meta } from './store/schema.ts';
import { JINA_COMPAT, RUNTIME_VERSION, VERSION } from './version.ts';

export interface Daemon {
  app: Hono;
  config: JinadConfig;
  /** The instance every backend object of this daemon is tagged with. */
  instance: string;
  store: Store;
  backend: Backend;
  jobs: JobRunner;
  /** Start plugins, reconcile, resume jobs, then listen. Resolves with the bound address. */
  start(): Promise<{ host: string; port: number; url: string }>;
  /** Stop serving, stop jobs (they resume at the next start), run plugins' close steps. */
  close(): Promise<void>;
}

export interface DaemonOptions {
  /** Where objects run; default: from `config.backend` (the local Docker Engine). */
  backend?: Backend;
}

/** The instance id: from config, else made once and kept in the store. */
async function instanceId(store: Store, configured?: string): Promise<string> {
  if (configured) return configured;
  const [row] = await store.db.select().from(meta).where(eq(meta.key, 'instance'));
  if (row) return row.value;
  const value = `jinad-${crypto.randomUUID().slice(0, 8)}`;
  await store.db.insert(meta).values({ key: 'instance', value }).onConflictDoNothing();
  return value;
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${what}: cannot read ${file}: ${(err as Error).message}`);
  }
}

function humanBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) (n /= 1024), i++;
  return `${n.toFixed(1)} ${units[i]}`;
}

/** Id kinds and the plugins that own them. */
function kindRegistry(): KindRegistry & { own(plugin: string, kind: string, owner: KindOwner): void } {
  const owners = new Map<string, { plugin: string; owner: KindOwner }>();
  /** The kind each id names (a pure function of the id, asked at every log line): remembered, a few thousand at most. */
  const kindOfId = new Map<string, string | null>();
  const kindOf = (id: string) => {
    let kind = kindOfId.get(id);
    if (kind === undefined) {
      try {
        kind = parseDaemonId(id).jtype.slice(1);
      } catch {
        kind = null;
      }
      if (kindOfId.size >= 4096) kindOfId.clear();
      kindOfId.set(id, kind);
    }
    return kind;
  };
  return {
    own(plugin, kind, owner) {
      const taken = owners.get(kind);
      if (taken) throw new PluginError(`plugin '${plugin}': id kind '${kind}' is already owned by plugin '${taken.plugin}'`);
      owners.set(kind, { plugin, owner });
    },
    has: (kind) => owners.has(kind),
    kinds: () => [...owners.keys()],
    resolve(id) {
      const kind = kindOf(id);
      if (kind === null) return undefined;
      const workspaceId = owners.get(kind)?.owner.workspaceOf(id);
      return workspaceId ? { kind, workspaceId } : undefined;
    },
  };
}

type Hook = { plugin: string; fn: () => Promise<void> | void };

async function runHooks(hooks: Hook[], log: Logger, what: string, fatal: boolean): Promise<void> {
  for (const { plugin, fn } of hooks) {
    try {
      await fn();
    } catch (err) {
      if (fatal) throw new PluginError(`plugin '${plugin}' failed to ${what}: ${(err as Error).message}`, { cause: err });
      log.warn(`plugin '${plugin}' failed to ${what}; continuing`, err);
    }
  }
}

/**
 * The last answer of `fn`, reused while younger than `ttlMs`; once older, callers still get it at
 * once while one call refreshes it in the background (a slow backend never slows GET /status).
 * Only the very first call waits, and at most `firstWaitMs`, for `fallback` otherwise.
 */
function staleWhileRefresh<T>(fn: () => Promise<T>, ttlMs: number, fallback: T, firstWaitMs = 1000): () => Promise<T> {
  let value: T | undefined;
  let at = 0;
  let refreshing: Promise<void> | undefined;
  const refresh = () =>
    (refreshing ??= fn()
      .then((v) => {
        value = v;
        at = Date.now();
      })
      .catch(() => {})
      .finally(() => (refreshing = undefined)));
  return async () => {
    if (value === undefined) {
      const first = refresh();
      await Promise.race([first, new Promise((r) => setTimeout(r, firstWaitMs).unref())]);
      return value ?? fallback;
    }
    if (Date.now() - at > ttlMs) void refresh();
    return value;
  };
}

/** Methods that change nothing: served while the daemon reconciles. */
const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** GET / and GET /status: the core's own routes. /status is served from state kept fresh in the background. */
function coreRoutes(app: Hono, d: { config: JinadConfig; backend: Backend; instance: string; statusHooks: (() => Promise<Record<string, unknown>>)[]; reconciling: () => boolean; started: Record<string, number> }) {
  const unreachable = (err: Error) => ({ kind: d.backend.kind, error: `the ${d.backend.kind} backend is not reachable: ${err.message}` });
  const engine = staleWhileRefresh(() => d.backend.info().catch(unreachable), 5000, { kind: d.backend.kind, error: `the ${d.backend.kind} backend has not answered yet` });
  const parts = staleWhileRefresh(async () => Object.assign({}, ...(await Promise.all(d.statusHooks.map((h) => h())))) as Record<string, unknown>, 1000, {});
  const envs = Object.fromEntries(Object.entries(d.config.env).filter(([k]) => !SECRET_NAME.test(k)));
  // How long the event loop was held up since start (what every request waits for).
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  app.get('/', describe({ tags: ['daemon'], summary: 'Liveness', responses: { 200: { description: '`{}`' } } }), (c) => c.json({}));
  // Read at most twice a second: process.memoryUsage() reads /proc and the heap (~0.3 ms a call
  // under load, measured: a fifth of the daemon's time in /status reads of bench/mixed-load.ts).
  let mem = process.memoryUsage();
  let memAt = Date.now();
  app.get('/status', describe({ tags: ['daemon'], summary: 'Versions, the backend, store counts, memory', responses: { 200: { description: 'status' } } }), async (c) => {
    if (Date.now() - memAt > 500) [mem, memAt] = [process.memoryUsage(), Date.now()];
    return c.json({
      jinad: { version: VERSION, runtime: RUNTIME_VERSION, node: process.version, instance: d.instance, backend: d.backend.kind },
      jina: { version: RUNTIME_VERSION, api: JINA_COMPAT },
      // True for the moments after a start while what the store says is checked against the
      // backend (requests that change something wait for it).
      reconciling: d.reconciling(),
      start_ms: d.started,
      docker: await engine(),
      envs,
      ...(await parts()),
      used_memory: humanBytes(mem.rss),
      memory: { rss: mem.rss, heap_used: mem.heapUsed },
      event_loop_delay_ms: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
    });
  });
}

export async function createDaemon(config: JinadConfig, opts: DaemonOptions = {}): Promise<Daemon> {
  // When each step of start-up ended, in ms since the process started (GET /status `start_ms`).
  const started: Record<string, number> = {};
  const mark = (step: string) => (started[step] = Math.round(performance.now()));
  mark('loaded');
  const log = createLogger(config.logLevel);
  // Read first: a missing or unreadable certificate stops start-up before anything is opened.
  const tls = config.tls && { cert: readPem(config.tls.cert, 'tls.cert'), key: readPem(config.tls.key, 'tls.key') };
  mkdirSync(config.root, { recursive: true });
  const store = await openStore(config.databaseUrl, config.databaseAuthToken);
  const instance = await instanceId(store, config.instance);
  const metrics = createMetrics();
  const rawBackend = opts.backend ?? createBackend(config);
  await rawBackend.start({ instance, log: log.child('backend') });
  const backend = config.metrics ? measuredBackend(rawBackend, metrics) : rawBackend;
  const logFiles = new LogFiles(config.logFiles);
  const jobs = new JobRunner(store, config.buildConcurrency, log.child('jobs'));
  const kinds = kindRegistry();

  const app = new Hono();
  // Requests being answered: a shutdown lets them finish (bounded) before it closes anything.
  // The same middleware records each request's metrics once it is answered.
  let inflight = 0;
  const record = config.metrics ? httpMetrics(metrics) : undefined;
  app.use((c, next) => {
    inflight++;
    const t0 = performance.now();
    return next().finally(() => {
      inflight--;
      record?.(c, t0);
    });
  });
  // The daemon answers while it reconciles after a (re)start: reads are served from what it
  // knows, and a request that changes something waits for the reconcile (which removes what the
  // store does not know: an object made meanwhile would be among it).
  let reconciling: Promise<void> | undefined;
  app.use(async (c, next) => {
    if (reconciling && !READS.has(c.req.method)) await reconciling;
    return next();
  });
  app.use(hostGuard(config.publicNames));
  app.use(originGuard(config.corsOrigins));
  app.use(boundedBodies(config.limits.jsonBytes));
  app.onError((err, c) => errorResponse(c, err, (m, e) => log.error(`${c.req.method} ${c.req.path}: ${m}`, e)));
  app.notFound((c) => c.json({ detail: `${c.req.method} ${c.req.path} not found` }, 404));
  // Before every route: a route registered earlier would answer without passing the gate.
  try {
    await setupAuth(app, { config, store, log: log.child('auth') });
  } catch (err) {
    await backend.close();
    store.close();
    throw err;
  }

  const live = createLiveStates(backend, log.child('live'));
  metrics.gauge('jinad_objects', 'Objects the backend runs for this daemon, by kind and live state', ['kind', 'state'], (g) => {
    g.reset();
    for (const o of live.all()) g.inc({ kind: o.kind, state: o.status });
  });
  const services = new Map<string, unknown>([
    ['replicas', createReplicaLedger()],
    ['live', live],
    ['starts', createStartSlots(config.objectStartConcurrency)],
    ['objects', new Map()],
    ['metrics', metrics],
  ]);
  const statusHooks: (() => Promise<Record<string, unknown>>)[] = [];
  const startHooks: Hook[] = [];
  const reconcileHooks: Hook[] = [];
  const readyHooks: Hook[] = [];
  const closeHooks: (() => Promise<void> | void)[] = [];
  coreRoutes(app, { config, backend, instance, statusHooks, reconciling: () => reconciling !== undefined, started });
  if (config.metrics) metricsRoutes(app, metrics);
  let closed = false;
  /** Release everything: on close, or when start-up stops half way. */
  const closeAll = async () => {
    if (closed) return;
    closed = true;
    live.stop();
    await jobs.close();
    for (const fn of closeHooks.reverse()) await fn();
    await backend.close();
    logFiles.close();
    store.close();
  };

  try {
    const entries = [...(config.plugins ?? builtinPlugins()), ...config.extraPlugins];
    const plugins = orderPlugins(await loadPlugins(entries));
    const unknownSlices = Object.keys(config.slices).filter((k) => !plugins.some((p) => p.name === k));
    if (unknownSlices.length) throw new PluginError(`invalid configuration: ${unknownSlices.map((k) => `'${k}'`).join(', ')} is neither a setting nor a plugin's name`);
    for (const plugin of plugins) {
      const router = new Hono();
      const name = plugin.name;
      const api: PluginApi = {
        name,
        config,
        options: pluginOptions(plugin, config),
        store,
        backend,
        jobs,
        log: log.child(name),
        router,
        logFiles,
        daemonDir: (workspaceId) => path.join(config.root, '.daemon', workspaceId),
        kinds,
        ownKind: (kind, owner) => kinds.own(name, kind, owner),
        provide(key, service) {
          if (services.has(key)) throw new PluginError(`plugin '${name}': service '${String(key)}' is already provided`);
          services.set(key, service);
        },
        use<K extends keyof Services>(key: K) {
          if (!services.has(key)) throw new PluginError(`plugin '${name}' uses service '${String(key)}', which no plugin it depends on provides`);
          return services.get(key) as Services[K];
        },
        onStatus: (fn) => statusHooks.push(fn),
        onStart: (fn) => startHooks.push({ plugin: name, fn }),
        onReconcile: (fn) => reconcileHooks.push({ plugin: name, fn }),
        onReady: (fn) => readyHooks.push({ plugin: name, fn }),
        onClose: (fn) => closeHooks.push(fn),
      };
      try {
        await plugin.setup(api);
      } catch (err) {
        if (err instanceof PluginError) throw err;
        throw new PluginError(`plugin '${name}' failed to set up: ${(err as Error).message}`, { cause: err });
      }
      app.route(plugin.prefix ?? '/', router);
    }
    mountOpenApi(
      app,
      plugins.filter((p) => p.prefix).map((p) => ({ name: p.name, description: p.description })),
      { auth: config.auth },
    );
  } catch (err) {
    // Nothing serves yet: release what was opened (plugins set up so far included), then say why.
    await closeAll();
    throw err;
  }

  let server: ServerType | undefined;
  const wss = new WebSocketServer({ noServer: true });
  mark('daemon_created');
  return {
    app,
    config,
    instance,
    store,
    backend,
    jobs,
    async start() {
      try {
        await runHooks(startHooks, log, 'start', true);
      } catch (err) {
        await closeAll();
        throw err;
      }
      mark('plugins_started');
      // Live states first: reconcile and every list read them. A backend that is down now is
      // synced later (its lists read the backend until then).
      await live.start().catch((err) => log.warn('cannot follow the backend’s events yet', err));
      mark('live_states');
      // Listening starts now; the reconcile runs while reads are answered (see `reconciling`).
      let settle!: () => void;
      reconciling = new Promise<void>((r) => {
        settle = () => {
          reconciling = undefined;
          r();
        };
      });
      const info = await new Promise<AddressInfo>((resolve, reject) => {
        const base = { fetch: app.fetch, hostname: config.host, port: config.port, websocket: { server: wss } };
        server = serve(tls ? { ...base, createServer: createHttpsServer, serverOptions: tls } : base, (addr) => resolve(addr));
        server.once('error', reject);
        server.on('clientError', onClientError);
      }).catch((err) => {
        settle();
        throw err;
      });
      mark('listening');
      try {
        await runHooks(reconcileHooks, log, 'reconcile', false);
        const resumed = await jobs.resume();
        if (resumed) log.info(`resumed ${resumed} unfinished job(s)`);
      } finally {
        settle();
      }
      mark('reconciled');
      const host = info.address.includes(':') ? `[${info.address}]` : info.address;
      const scheme = tls ? 'https' : 'http';
      log.info(`JinaD ${VERSION} listening on ${scheme}://${host}:${info.port} (docs at /docs, instance ${instance}, ${backend.kind} backend)`);
      if (!config.auth && isLoopback(config.host)) log.info('authentication is off (loopback only, as JinaD 2.0 ran)');
      if (!config.auth && !isLoopback(config.host)) log.warn(`authentication is off on ${config.host} (--insecure): anyone who reaches this port can run code on this machine`);
      // Base images of other versions go once the daemon answers: requests do not wait for this.
      const pruned = await backend.pruneBaseImages().catch(() => 0);
      if (pruned) log.info(`removed ${pruned} runtime base image(s) of other versions that nothing used`);
      await runHooks(readyHooks, log, 'get ready', false);
      return { host: info.address, port: info.port, url: `${scheme}://${host}:${info.port}` };
    },
    async close() {
      if (server) {
        const s = server as ServerType & { closeAllConnections?: () => void; closeIdleConnections?: () => void };
        // Stop accepting; let requests under way finish (a Flow being created is created, or
        // rolled back by its own failure path), up to drainMs; then end what is left.
        const closed = new Promise<void>((resolve) => s.close(() => resolve()));
        s.closeIdleConnections?.();
        // Upgraded (WebSocket) connections are not the HTTP server's to close: end them first.
        for (const client of wss.clients) client.terminate();
        const deadline = Date.now() + config.drainMs;
        while (inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        if (inflight > 0) log.warn(`${inflight} request(s) still running after ${config.drainMs} ms; closing their connections`);
        s.closeAllConnections?.();
        await closed;
      }
      await closeAll();
    },
  };
}
