/**
 * The daemon: HTTP app, store, Docker access, jobs and plugins, wired together.
 * It knows no resource kind; every kind is a plugin.
 */
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { describe } from './http/describe.ts';
import { WebSocketServer } from 'ws';
import type { JinadConfig } from './config.ts';
import { createBaseImage } from './docker/base-image.ts';
import { LABEL, type Labels } from './docker/labels.ts';
import { type ContainerRuntime, type ContainerSpec, createDockerRuntime } from './docker/runtime.ts';
import { errorResponse } from './http/errors.ts';
import { mountOpenApi } from './http/openapi.ts';
import { originGuard } from './http/origin.ts';
import { JobRunner } from './jobs.ts';
import { LogFiles } from './logfiles.ts';
import { createLogger } from './logger.ts';
import { builtinPlugins, loadPlugins, orderPlugins, type PluginApi, PluginError, type Services } from './plugins.ts';
import { openStore, type Store } from './store/db.ts';
import { meta } from './store/schema.ts';
import { JINA_COMPAT, RUNTIME_VERSION, VERSION } from './version.ts';

export interface Daemon {
  app: Hono;
  config: JinadConfig;
  /** The value of the instance label on every Docker object this daemon makes. */
  instance: string;
  store: Store;
  docker: ContainerRuntime;
  jobs: JobRunner;
  /** Reconcile with Docker, resume jobs, then listen. Resolves with the bound address. */
  start(): Promise<{ host: string; port: number; url: string }>;
  /** Stop serving, stop jobs (they resume at the next start), run plugins' close steps. */
  close(): Promise<void>;
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

function humanBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) (n /= 1024), i++;
  return `${n.toFixed(1)} ${units[i]}`;
}

export async function createDaemon(config: JinadConfig): Promise<Daemon> {
  const log = createLogger(config.logLevel);
  mkdirSync(config.root, { recursive: true });
  const store = await openStore(config.databaseUrl, config.databaseAuthToken);
  const instance = await instanceId(store, config.instance);
  // Every container any plugin starts passes through the registered decorators first.
  const decorators: ((spec: ContainerSpec) => ContainerSpec)[] = [];
  const engine = createDockerRuntime(config.docker);
  const docker: ContainerRuntime = { ...engine, runContainer: (spec) => engine.runContainer(decorators.reduce((s, d) => d(s), spec)) };
  const logFiles = new LogFiles({ maxBytes: config.logs.maxBytes, keep: config.logs.keep });
  const jobs = new JobRunner(store, config.buildConcurrency, log.child('jobs'));
  const baseImage = createBaseImage({ docker, strategy: config.baseImage, log: log.child('base-image') });
  let hostRoot = config.root;

  const app = new Hono();
  app.use(originGuard(config.corsOrigins));
  app.onError((err, c) => errorResponse(c, err, (m, e) => log.error(`${c.req.method} ${c.req.path}: ${m}`, e)));
  app.notFound((c) => c.json({ detail: `${c.req.method} ${c.req.path} not found` }, 404));

  const services = new Map<string, unknown>();
  const statusHooks: (() => Promise<Record<string, unknown>>)[] = [];
  const reconcileHooks: { plugin: string; fn: () => Promise<void> }[] = [];
  const closeHooks: (() => Promise<void> | void)[] = [];

  app.get('/', describe({ tags: ['daemon'], summary: 'Liveness', responses: { 200: { description: '`{}`' } } }), (c) => c.json({}));
  app.get('/status', describe({ tags: ['daemon'], summary: 'Versions, Docker Engine, store counts, memory', responses: { 200: { description: 'status' } } }), async (c) => {
    const engine = await docker.version().catch((err: Error) => ({ error: `Docker Engine not reachable: ${err.message}` }));
    const parts = await Promise.all(statusHooks.map((h) => h()));
    const mem = process.memoryUsage();
    const envs = Object.fromEntries(Object.entries(process.env).filter(([k]) => /^JINAD?_/.test(k) && !/TOKEN|SECRET|PASS|KEY/i.test(k)));
    return c.json({
      jinad: { version: VERSION, runtime: RUNTIME_VERSION, node: process.version, instance },
      jina: { version: RUNTIME_VERSION, api: JINA_COMPAT },
      docker: engine,
      envs,
      ...Object.assign({}, ...parts),
      used_memory: humanBytes(mem.rss),
      memory: { rss: mem.rss, heap_used: mem.heapUsed },
    });
  });

  const entries = [...(config.plugins ?? builtinPlugins()), ...config.extraPlugins];
  const plugins = orderPlugins(await loadPlugins(entries));
  for (const plugin of plugins) {
    const router = new Hono();
    const api: PluginApi = {
      name: plugin.name,
      config,
      store,
      docker,
      jobs,
      log: log.child(plugin.name),
      router,
      baseImage,
      logFiles,
      decorateContainers: (fn) => decorators.push(fn),
      get hostRoot() {
        return hostRoot;
      },
      labels: (extra: Labels) => ({ [LABEL.instance]: instance, ...extra }),
      provide(key, service) {
        if (services.has(key)) throw new PluginError(`plugin '${plugin.name}': service '${String(key)}' is already provided`);
        services.set(key, service);
      },
      use<K extends keyof Services>(key: K) {
        if (!services.has(key)) throw new PluginError(`plugin '${plugin.name}' uses service '${String(key)}', which no plugin it depends on provides`);
        return services.get(key) as Services[K];
      },
      onStatus: (fn) => statusHooks.push(fn),
      onReconcile: (fn) => reconcileHooks.push({ plugin: plugin.name, fn }),
      onClose: (fn) => closeHooks.push(fn),
    };
    try {
      await plugin.setup(api);
    } catch (err) {
      throw new PluginError(`plugin '${plugin.name}' failed to set up: ${(err as Error).message}`, { cause: err });
    }
    app.route(plugin.prefix ?? '/', router);
  }
  mountOpenApi(
    app,
    plugins.filter((p) => p.prefix).map((p) => ({ name: p.name, description: p.description })),
  );

  let server: ServerType | undefined;
  const wss = new WebSocketServer({ noServer: true });
  return {
    app,
    config,
    instance,
    store,
    docker,
    jobs,
    async start() {
      hostRoot = config.hostRoot ?? (await docker.hostPathOf(config.root));
      for (const { plugin, fn } of reconcileHooks) {
        try {
          await fn();
        } catch (err) {
          log.warn(`reconcile of plugin '${plugin}' failed; continuing`, err);
        }
      }
      const pruned = await baseImage.pruneStale().catch(() => 0);
      if (pruned) log.info(`removed ${pruned} runtime base image(s) of other versions that nothing used`);
      const resumed = await jobs.resume();
      if (resumed) log.info(`resumed ${resumed} unfinished job(s)`);
      const info = await new Promise<AddressInfo>((resolve, reject) => {
        server = serve(
          { fetch: app.fetch, hostname: config.host, port: config.port, websocket: { server: wss } },
          (addr) => resolve(addr),
        );
        server.once('error', reject);
      });
      const host = info.address.includes(':') ? `[${info.address}]` : info.address;
      log.info(`JinaD ${VERSION} listening on http://${host}:${info.port} (docs at /docs, instance ${instance})`);
      return { host: info.address, port: info.port, url: `http://${host}:${info.port}` };
    },
    async close() {
      if (server) {
        const s = server;
        // Upgraded (WebSocket) connections are not the HTTP server's to close: end them first.
        for (const client of wss.clients) client.terminate();
        const closed = new Promise<void>((resolve) => s.close(() => resolve()));
        (s as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        await closed;
      }
      await jobs.close();
      for (const fn of closeHooks.reverse()) await fn();
      logFiles.close();
      store.close();
    },
  };
}
