/**
 * Daemon configuration: `jinad.config.ts` (defineConfig) ← environment ← CLI flags.
 * Validated once, frozen, then handed to the core and to plugins. This is the only module
 * that reads `process.env` for daemon settings.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as v from 'valibot';

const Port = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535));
const Positive = v.pipe(v.number(), v.integer(), v.minValue(1));

const ConfigSchema = v.strictObject({
  /** Address the REST API listens on. Loopback by default: there is no authentication yet. */
  host: v.optional(v.pipe(v.string(), v.minLength(1)), '127.0.0.1'),
  port: v.optional(Port, 8000),
  /** Root of every workspace directory and of the embedded database. */
  root: v.optional(v.pipe(v.string(), v.minLength(1)), '/tmp/jinad'),
  /** Host path of `root` when the daemon itself runs in a container; found by itself if unset. */
  hostRoot: v.optional(v.string()),
  /** libSQL URL. Default: an embedded file `<root>/jinad.db`. `libsql://…` for a shared server. */
  databaseUrl: v.optional(v.string()),
  databaseAuthToken: v.optional(v.string()),
  /** Docker connection: a unix socket path or a tcp URL (`tcp://host:2375`). Default: DOCKER_HOST or the local socket. */
  docker: v.optional(v.string()),
  /** Host address that published container ports bind to. */
  publishHost: v.optional(v.string(), '127.0.0.1'),
  /**
   * Address the daemon uses to reach ports its containers publish (their partial daemons).
   * Default: publishHost (127.0.0.1 for 0.0.0.0). A daemon in a container sets
   * `host.docker.internal` (run it with `--add-host host.docker.internal:host-gateway`).
   */
  reachHost: v.optional(v.string()),
  /** How the runtime base image is obtained: built locally (no registry needed) or a named image. */
  baseImage: v.optional(
    v.variant('strategy', [
      v.strictObject({ strategy: v.literal('build') }),
      v.strictObject({ strategy: v.literal('image'), name: v.pipe(v.string(), v.minLength(1)) }),
    ]),
    { strategy: 'build' },
  ),
  /** How long a Flow/Pod/Pea container may take to start its object before creation fails. */
  readyTimeoutMs: v.optional(Positive, 60_000),
  /** How many workspace builds may run at once (one at a time per workspace, always). */
  buildConcurrency: v.optional(Positive, 2),
  limits: v.optional(
    v.strictObject({
      /** Total bytes of one upload request. */
      uploadBytes: v.optional(Positive, 256 * 1024 * 1024),
      /** Files in one upload request, and entries in one zip. */
      uploadFiles: v.optional(Positive, 2000),
      /** Bytes a zip may expand to. */
      extractedBytes: v.optional(Positive, 1024 * 1024 * 1024),
    }),
    {},
  ),
  /** Container logs: Docker's fluentd log driver → a forward-protocol receiver in the daemon. */
  logs: v.optional(
    v.strictObject({
      /** Where the receiver listens; containers' log driver sends there (from the Docker host). */
      host: v.optional(v.string(), '127.0.0.1'),
      /** Stable across restarts: containers keep the address they were created with. */
      port: v.optional(Port, 24224),
      /** An external Fluentd (`tcp://host:port`): the driver sends there, the daemon reads logs back through Docker. */
      fluentd: v.optional(v.pipe(v.string(), v.regex(/^tcp:\/\/[^:/]+:\d+$/, 'expected tcp://host:port'))),
      /** A log file rotates at this size; `keep` old files are kept. */
      maxBytes: v.optional(Positive, 10 * 1024 * 1024),
      keep: v.optional(Positive, 3),
      /** Streams send a heartbeat this often so idle proxies keep them open. */
      heartbeatMs: v.optional(Positive, 15_000),
    }),
    {},
  ),
  /** Plugins: built-in names (`workspace`) or folders. Default: every built-in. */
  plugins: v.optional(v.array(v.pipe(v.string(), v.minLength(1)))),
  /** Extra plugin folders added after `plugins` (env JINAD_PLUGINS, flag --plugin). */
  extraPlugins: v.optional(v.array(v.string()), []),
  /**
   * Browser origins allowed to call the API (e.g. `https://ui.example`), or `['*']`. Default:
   * none, so a web page cannot drive the daemon from a visitor's browser.
   */
  corsOrigins: v.optional(v.array(v.pipe(v.string(), v.minLength(1))), []),
  /** Tells apart daemons sharing one Docker Engine; stored in the database on first start if unset. */
  instance: v.optional(v.pipe(v.string(), v.regex(/^[a-zA-Z0-9_.-]{1,64}$/))),
  logLevel: v.optional(v.picklist(['debug', 'info', 'warn', 'error', 'silent']), 'info'),
});

export type JinadConfigInput = v.InferInput<typeof ConfigSchema>;
type Output = v.InferOutput<typeof ConfigSchema>;
export type JinadConfig = Readonly<Output & { databaseUrl: string; limits: Required<Output['limits']>; logs: Required<Omit<Output['logs'], 'fluentd'>> & { fluentd?: string } }>;

/** Typed identity for `jinad.config.ts`: `export default defineConfig({ port: 8000 })`. */
export function defineConfig(config: JinadConfigInput): JinadConfigInput {
  return config;
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

/** Environment overrides: JINAD_<KEY>, plus DOCKER_HOST as Docker itself reads it. */
function fromEnv(env: Env): JinadConfigInput {
  const out: Record<string, unknown> = {};
  const num = (key: string, name: string) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return;
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new ConfigError(`${name}: expected a number, got '${raw}'`);
    out[key] = n;
  };
  const str = (key: string, name: string) => {
    if (env[name]) out[key] = env[name];
  };
  str('host', 'JINAD_HOST');
  num('port', 'JINAD_PORT');
  str('root', 'JINAD_ROOT');
  str('hostRoot', 'JINAD_HOST_ROOT');
  str('databaseUrl', 'JINAD_DATABASE_URL');
  str('databaseAuthToken', 'JINAD_DATABASE_AUTH_TOKEN');
  str('docker', 'DOCKER_HOST');
  str('publishHost', 'JINAD_PUBLISH_HOST');
  str('reachHost', 'JINAD_REACH_HOST');
  num('buildConcurrency', 'JINAD_BUILD_CONCURRENCY');
  num('readyTimeoutMs', 'JINAD_READY_TIMEOUT_MS');
  str('instance', 'JINAD_INSTANCE');
  str('logLevel', 'JINAD_LOG_LEVEL');
  const logs: Record<string, unknown> = {};
  if (env.JINAD_LOGS_PORT) logs.port = Number(env.JINAD_LOGS_PORT);
  if (env.JINAD_LOGS_HOST) logs.host = env.JINAD_LOGS_HOST;
  if (env.JINAD_FLUENTD) logs.fluentd = env.JINAD_FLUENTD;
  if (Object.keys(logs).length) out.logs = logs;
  if (env.JINAD_BASE_IMAGE) out.baseImage = { strategy: 'image', name: env.JINAD_BASE_IMAGE };
  if (env.JINAD_CORS_ORIGINS) out.corsOrigins = env.JINAD_CORS_ORIGINS.split(',').map((s) => s.trim()).filter(Boolean);
  if (env.JINAD_PLUGINS) out.extraPlugins = env.JINAD_PLUGINS.split(',').map((s) => s.trim()).filter(Boolean);
  return out as JinadConfigInput;
}

/** CLI flags: `--host --port --root --database-url --docker --publish-host --base-image --plugin --config`. */
export function parseFlags(argv: string[]): { config?: string; overrides: JinadConfigInput } {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      config: { type: 'string', short: 'c' },
      host: { type: 'string' },
      port: { type: 'string', short: 'p' },
      root: { type: 'string' },
      'database-url': { type: 'string' },
      docker: { type: 'string' },
      'publish-host': { type: 'string' },
      'base-image': { type: 'string' },
      plugin: { type: 'string', multiple: true },
      'log-level': { type: 'string' },
    },
  });
  const o: Record<string, unknown> = {};
  if (values.host) o.host = values.host;
  if (values.port !== undefined) {
    o.port = Number(values.port);
    if (!Number.isFinite(o.port)) throw new ConfigError(`--port: expected a number, got '${values.port}'`);
  }
  if (values.root) o.root = values.root;
  if (values['database-url']) o.databaseUrl = values['database-url'];
  if (values.docker) o.docker = values.docker;
  if (values['publish-host']) o.publishHost = values['publish-host'];
  if (values['base-image']) o.baseImage = { strategy: 'image', name: values['base-image'] };
  if (values.plugin) o.extraPlugins = values.plugin;
  if (values['log-level']) o.logLevel = values['log-level'];
  return { config: values.config, overrides: o as JinadConfigInput };
}

/** Merge and validate. An invalid value fails with the key and the reason. */
export function resolveConfig(...layers: JinadConfigInput[]): JinadConfig {
  const merged: Record<string, unknown> = {};
  for (const layer of layers) {
    for (const [k, val] of Object.entries(layer)) {
      if (val === undefined) continue;
      if (k === 'extraPlugins') merged[k] = [...((merged[k] as string[]) ?? []), ...(val as string[])];
      else if (k === 'limits' || k === 'logs') merged[k] = { ...(merged[k] as object), ...(val as object) };
      else merged[k] = val;
    }
  }
  const result = v.safeParse(ConfigSchema, merged);
  if (!result.success) {
    const msgs = result.issues.map((i) => `${v.getDotPath(i) ?? '(config)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${msgs.join('; ')}`);
  }
  const c = result.output;
  const root = path.resolve(c.root);
  return Object.freeze({
    ...c,
    root,
    databaseUrl: c.databaseUrl ?? `file:${path.join(root, 'jinad.db')}`,
    limits: Object.freeze(c.limits as Required<typeof c.limits>),
    logs: Object.freeze(c.logs as JinadConfig['logs']),
  });
}

/** Load `jinad.config.ts` (or the given file) and apply env and flag overrides. */
export async function loadConfig(opts: { argv?: string[]; env?: Env; cwd?: string } = {}): Promise<JinadConfig> {
  const env = opts.env ?? process.env;
  const { config: configPath, overrides } = parseFlags(opts.argv ?? []);
  const file = configPath ?? env.JINAD_CONFIG ?? path.join(opts.cwd ?? process.cwd(), 'jinad.config.ts');
  let fileConfig: JinadConfigInput = {};
  if (existsSync(file)) {
    try {
      const mod = await import(pathToFileURL(path.resolve(file)).href);
      fileConfig = mod.default ?? {};
    } catch (err) {
      throw new ConfigError(`cannot load ${file}: ${(err as Error).message}`);
    }
    // Relative plugin folders in the file are relative to the file.
    const base = path.dirname(path.resolve(file));
    const rel = (p: string) => (p.startsWith('.') ? path.resolve(base, p) : p);
    fileConfig = { ...fileConfig, plugins: fileConfig.plugins?.map(rel), extraPlugins: fileConfig.extraPlugins?.map(rel) };
  } else if (configPath || env.JINAD_CONFIG) {
    throw new ConfigError(`config file ${file} does not exist`);
  }
  return resolveConfig(fileConfig, fromEnv(env), overrides);
}
