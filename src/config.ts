/**
 * Daemon configuration: `jinad.config.ts` (defineConfig) ← environment ← CLI flags.
 * Validated once, frozen, then handed to the core and to plugins. This is the only module of
 * the daemon that reads `process.env`. A top-level key that is not the core's is a plugin's
 * config slice (`logs: {...}`); the plugin validates it with its own schema at set-up, and its
 * env variables (`JINAD_LOGS_PORT`) and flags (`--logs-port`) are kept raw here for that.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as v from 'valibot';
import { Deployment, DEPLOYMENT_NAME } from './contract/deployments.ts';
import { parseResource, type Resources } from './contract/resources.ts';
import { importUserModule } from './user-module.ts';

const Port = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535));
const Positive = v.pipe(v.number(), v.integer(), v.minValue(1));

const ConfigSchema = v.strictObject({
  /** Where objects run: the local Docker Engine, a Docker Swarm, or an in-memory fake (tests, trying the API without Docker). */
  backend: v.optional(
    v.variant('kind', [
      v.strictObject({ kind: v.literal('docker') }),
      v.strictObject({ kind: v.literal('fake') }),
      /** A Docker Swarm: `docker`/DOCKER_HOST points at a manager; workspace images go through `registry` (host:port) to every node. */
      v.strictObject({
        kind: v.literal('swarm'),
        registry: v.pipe(v.string(), v.regex(/^[A-Za-z0-9.-]+(:\d+)?$/, 'expected the registry as host:port')),
        /** Published ports: on the node running the task (`host`), or on every node through the routing mesh (`ingress`, needs IPVS). */
        publish: v.optional(v.picklist(['host', 'ingress']), 'host'),
        /** Encrypt the workspaces' overlay networks between nodes. */
        encrypted: v.optional(v.boolean(), false),
        /** The log receiver's address as the nodes see it (`tcp://10.0.0.1:24224`); default: `logs.host`/`logs.port`. */
        logAddress: v.optional(v.pipe(v.string(), v.regex(/^tcp:\/\/[^:/]+:\d+$/, 'expected tcp://host:port'))),
      }),
    ]),
    { kind: 'docker' },
  ),
  /** Address the REST API listens on. Loopback by default; see `auth` before listening elsewhere. */
  host: v.optional(v.pipe(v.string(), v.minLength(1)), '127.0.0.1'),
  port: v.optional(Port, 8000),
  /**
   * Bearer tokens on every route but `GET /` and the /docs page. On by default, on loopback too
   * (a web page in the user's browser can reach loopback). Off is allowed on a loopback listener
   * only, unless `insecure` is set.
   */
  auth: v.optional(v.boolean(), true),
  /** Failed authentications one address may make within `windowSeconds` before it must wait (429). */
  authThrottle: v.optional(v.strictObject({ failures: v.optional(Positive, 20), windowSeconds: v.optional(Positive, 60) }), {}),
  /** Listen on a non-loopback address with authentication off anyway (a warning at every start). */
  insecure: v.optional(v.boolean(), false),
  /**
   * Host names this daemon answers to besides loopback names and IP addresses (e.g.
   * `jinad.example.com`): a request naming any other host is refused (DNS rebinding).
   */
  publicNames: v.optional(v.array(v.pipe(v.string(), v.minLength(1))), []),
  /** Serve HTTPS and WSS with this certificate and key (PEM files). */
  tls: v.optional(v.strictObject({ cert: v.pipe(v.string(), v.minLength(1)), key: v.pipe(v.string(), v.minLength(1)) })),
  /**
   * Limits of every container the daemon starts, unless its workspace's `.jinad` or its create
   * arguments say otherwise: memory (`2g`), CPUs (`1.5`; unset: all), processes.
   */
  containerLimits: v.optional(
    v.strictObject({
      memory: v.optional(v.nullable(v.union([v.string(), v.number()])), '2g'),
      cpus: v.optional(v.nullable(v.number())),
      pids: v.optional(v.nullable(v.number()), 1024),
    }),
    {},
  ),
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
  /**
   * A Flow's gateway gets the host's listening socket of its published port (no proxy between
   * clients and the container: src/backend/docker/handoff.ts) where the engine is local and the
   * daemon runs on the host; `false`: every port goes through Docker's port publishing.
   */
  directPorts: v.optional(v.boolean(), true),
  /** How the runtime base image is obtained: built locally (no registry needed) or a named image. */
  baseImage: v.optional(
    v.variant('strategy', [
      v.strictObject({ strategy: v.literal('build') }),
      v.strictObject({ strategy: v.literal('image'), name: v.pipe(v.string(), v.minLength(1)) }),
    ]),
    { strategy: 'build' },
  ),
  /** On SIGTERM, how long requests under way may take to finish before their connections close. */
  drainMs: v.optional(Positive, 30_000),
  /**
   * Workspace networks get a subnet of `prefix` bits out of `subnet`, skipping any that overlaps a
   * network on the engine or a route of this machine (`false`: let Docker allocate, ~30 networks).
   */
  networkPool: v.optional(
    v.union([
      v.literal(false),
      v.pipe(
        v.strictObject({ subnet: v.pipe(v.string(), v.regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'expected an IPv4 CIDR like 10.213.0.0/16')), prefix: v.pipe(v.number(), v.integer(), v.minValue(8), v.maxValue(30)) }),
        v.check((p) => Number(p.subnet.split('/')[1]) <= p.prefix, 'prefix must be at least the pool subnet\'s own'),
      ),
    ]),
    { subnet: '10.213.0.0/16', prefix: 26 },
  ),
  /**
   * Where pip finds packages for Python workspaces (requirements files): pip's own defaults when
   * unset. `findLinks`: URLs, or folders of the workspace (copied into the build), of wheels;
   * `noIndex`: look nowhere else.
   */
  pip: v.optional(
    v.strictObject({
      indexUrl: v.optional(v.string()),
      extraIndexUrl: v.optional(v.string()),
      findLinks: v.optional(v.array(v.string())),
      noIndex: v.optional(v.boolean()),
    }),
    {},
  ),
  /** Seconds without a request after which a Flow, Pod or Pea stops until a request wakes it (0: never); an object's own idle_timeout wins. */
  idleTimeout: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(86_400)), 0),
  /**
   * Warm spares for idle-enabled objects: containers kept started per workspace image (and kind,
   * ports and limits) that a wake or a create turns into the object in milliseconds instead of
   * starting a container (Docker backend). Each runs the partial daemon without an object (~40 MB).
   * 0: off (a wake starts the object's stopped container).
   */
  idleSpares: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(8)), 1),
  /** How long a Flow/Pod/Pea container may take to start its object before creation fails. */
  readyTimeoutMs: v.optional(Positive, 60_000),
  /**
   * Health of running objects: each one's partial daemon is asked every `intervalMs`; one that
   * has not answered for `unhealthyAfterMs` is restarted (unless its restart policy is `no`).
   */
  health: v.optional(v.strictObject({ intervalMs: v.optional(Positive, 5000), unhealthyAfterMs: v.optional(Positive, 30_000) }), {}),
  /** Prometheus metrics at GET /metrics (and every Flow's gateway listed at /metrics/targets). */
  metrics: v.optional(v.boolean(), true),
  /** How many Flows, Pods and Peas may start at once (the rest wait their turn). */
  objectStartConcurrency: v.optional(Positive, 4),
  /** How many workspace builds may run at once (one at a time per workspace, always). */
  buildConcurrency: v.optional(Positive, 2),
  limits: v.optional(
    v.strictObject({
      /** Total bytes of one upload request. */
      uploadBytes: v.optional(Positive, 256 * 1024 * 1024),
      /** Bytes of any other request body (JSON): refused with a 413 as it streams in, never read whole. */
      jsonBytes: v.optional(Positive, 1024 * 1024),
      /** Files in one upload request, and entries in one zip. */
      uploadFiles: v.optional(Positive, 2000),
      /** Bytes a zip may expand to. */
      extractedBytes: v.optional(Positive, 1024 * 1024 * 1024),
      /** Replicas of one executor (a Pod, or a Flow's executor), at creation and when scaled. */
      replicas: v.optional(Positive, 16),
      /** Replicas of every object in one workspace, together. */
      workspaceReplicas: v.optional(Positive, 64),
      /** Replicas of every object this daemon runs, together. */
      daemonReplicas: v.optional(Positive, 256),
    }),
    {},
  ),
  /** The daemon's log files (build output, object logs): a file rotates at `maxBytes`; `keep` old files are kept. */
  logFiles: v.optional(v.strictObject({ maxBytes: v.optional(Positive, 10 * 1024 * 1024), keep: v.optional(Positive, 3) }), {}),
  /** JINA_LOG_LEVEL given to every object (its executors' log level). */
  jinaLogLevel: v.optional(v.string(), 'INFO'),
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
  /**
   * Deployments the daemon applies at every start (as `jinad apply` would; see README §
   * Deployments): workspace folders are relative to `deploymentsBase`, the config file's folder.
   */
  deployments: v.optional(v.record(v.pipe(v.string(), v.regex(DEPLOYMENT_NAME, 'deployment names are lower-case letters, digits, - and _')), Deployment)),
  deploymentsBase: v.optional(v.string()),
});

/** The core's keys, plus plugin slices under plugin names (`logs: { port: 24224 }`). */
export type JinadConfigInput = v.InferInput<typeof ConfigSchema> & { [plugin: string]: unknown };
type Output = v.InferOutput<typeof ConfigSchema>;
export type JinadConfig = Readonly<
  Omit<Output, 'containerLimits' | 'authThrottle'> & {
    databaseUrl: string;
    limits: Required<Output['limits']>;
    authThrottle: Required<Output['authThrottle']>;
    /** Parsed: memory in bytes. */
    containerLimits: Resources;
    logFiles: Required<Output['logFiles']>;
    /** Plugin config slices, raw: each plugin validates its own. */
    slices: Readonly<Record<string, Record<string, unknown>>>;
    /** `JINAD_*` and `JINA_*` environment variables, for plugin slices and GET /status. */
    env: Readonly<Record<string, string>>;
    /** Flags the core does not know (`--logs-port 1`), for plugin slices: `logs-port` → `1`. */
    flags: Readonly<Record<string, string>>;
    /** The environment `${{ ENV.X }}` in `deployments` reads (empty without deployments). */
    deploymentEnv: Readonly<Record<string, string | undefined>>;
  }
>;
const CORE_KEYS = new Set(Object.keys(ConfigSchema.entries));

/** Typed identity for `jinad.config.ts`: `export default defineConfig({ port: 8000 })`. */
export function defineConfig(config: JinadConfigInput): JinadConfigInput {
  return config;
}

/** The daemon's configuration is invalid (file, env or flags): start-up stops with this message. */
export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

/** An on/off environment variable that says on. */
const isOn = (raw: string) => /^(on|true|1|yes)$/i.test(raw);

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
  if (env.JINAD_DIRECT_PORTS) out.directPorts = isOn(env.JINAD_DIRECT_PORTS);
  num('buildConcurrency', 'JINAD_BUILD_CONCURRENCY');
  num('objectStartConcurrency', 'JINAD_OBJECT_START_CONCURRENCY');
  num('readyTimeoutMs', 'JINAD_READY_TIMEOUT_MS');
  num('idleTimeout', 'JINAD_IDLE_TIMEOUT');
  num('idleSpares', 'JINAD_IDLE_SPARES');
  if (env.JINAD_PIP_INDEX_URL || env.JINAD_PIP_EXTRA_INDEX_URL || env.JINAD_PIP_FIND_LINKS || env.JINAD_PIP_NO_INDEX) {
    out.pip = {
      ...(env.JINAD_PIP_INDEX_URL && { indexUrl: env.JINAD_PIP_INDEX_URL }),
      ...(env.JINAD_PIP_EXTRA_INDEX_URL && { extraIndexUrl: env.JINAD_PIP_EXTRA_INDEX_URL }),
      ...(env.JINAD_PIP_FIND_LINKS && { findLinks: env.JINAD_PIP_FIND_LINKS.split(',').map((s) => s.trim()).filter(Boolean) }),
      ...(env.JINAD_PIP_NO_INDEX && { noIndex: isOn(env.JINAD_PIP_NO_INDEX) }),
    };
  }
  num('drainMs', 'JINAD_DRAIN_MS');
  str('instance', 'JINAD_INSTANCE');
  if (env.JINAD_AUTH) {
    const on = isOn(env.JINAD_AUTH);
    if (!on && !/^(off|false|0|no)$/i.test(env.JINAD_AUTH)) throw new ConfigError(`JINAD_AUTH: expected on or off, got '${env.JINAD_AUTH}'`);
    out.auth = on;
  }
  if (env.JINAD_METRICS) out.metrics = isOn(env.JINAD_METRICS);
  if (env.JINAD_INSECURE) out.insecure = isOn(env.JINAD_INSECURE);
  if (env.JINAD_PUBLIC_NAMES) out.publicNames = env.JINAD_PUBLIC_NAMES.split(',').map((s) => s.trim()).filter(Boolean);
  if (env.JINAD_TLS_CERT || env.JINAD_TLS_KEY) out.tls = { cert: env.JINAD_TLS_CERT ?? '', key: env.JINAD_TLS_KEY ?? '' };
  const limits: Record<string, unknown> = {};
  if (env.JINAD_CONTAINER_MEMORY) limits.memory = env.JINAD_CONTAINER_MEMORY;
  if (env.JINAD_CONTAINER_CPUS) limits.cpus = Number(env.JINAD_CONTAINER_CPUS);
  if (env.JINAD_CONTAINER_PIDS) limits.pids = Number(env.JINAD_CONTAINER_PIDS);
  if (Object.keys(limits).length) out.containerLimits = limits;
  str('logLevel', 'JINAD_LOG_LEVEL');
  str('jinaLogLevel', 'JINA_LOG_LEVEL');
  if (env.JINAD_BACKEND) {
    out.backend = {
      kind: env.JINAD_BACKEND,
      ...(env.JINAD_REGISTRY && { registry: env.JINAD_REGISTRY }),
      ...(env.JINAD_SWARM_PUBLISH && { publish: env.JINAD_SWARM_PUBLISH }),
      ...(env.JINAD_SWARM_ENCRYPTED && { encrypted: isOn(env.JINAD_SWARM_ENCRYPTED) }),
      ...(env.JINAD_SWARM_LOG_ADDRESS && { logAddress: env.JINAD_SWARM_LOG_ADDRESS }),
    };
  }
  if (env.JINAD_BASE_IMAGE) out.baseImage = { strategy: 'image', name: env.JINAD_BASE_IMAGE };
  if (env.JINAD_CORS_ORIGINS) out.corsOrigins = env.JINAD_CORS_ORIGINS.split(',').map((s) => s.trim()).filter(Boolean);
  if (env.JINAD_PLUGINS) out.extraPlugins = env.JINAD_PLUGINS.split(',').map((s) => s.trim()).filter(Boolean);
  return out as JinadConfigInput;
}

const FLAG_OPTIONS = {
  config: { type: 'string', short: 'c' },
  host: { type: 'string' },
  port: { type: 'string', short: 'p' },
  root: { type: 'string' },
  'database-url': { type: 'string' },
  docker: { type: 'string' },
  'publish-host': { type: 'string' },
  'base-image': { type: 'string' },
  backend: { type: 'string' },
  plugin: { type: 'string', multiple: true },
  'log-level': { type: 'string' },
  auth: { type: 'string' },
  insecure: { type: 'boolean' },
  'public-name': { type: 'string', multiple: true },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
} as const;
/** The core's own flags: any other `--<word>-<word>` is a plugin's. */
const CORE_FLAGS = new Set(Object.keys(FLAG_OPTIONS));

/** Split off `--<plugin>-<key> value` (and `--<plugin>-<key>=value`) flags the core does not know. */
function pluginFlags(argv: string[]): { core: string[]; plugin: Record<string, string> } {
  const core: string[] = [];
  const plugin: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z][a-z0-9]*-[a-z0-9-]+)(?:=(.*))?$/s.exec(argv[i]!);
    if (!m || CORE_FLAGS.has(m[1]!)) {
      core.push(argv[i]!);
      continue;
    }
    if (m[2] !== undefined) plugin[m[1]!] = m[2];
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) plugin[m[1]!] = argv[++i]!;
    else throw new ConfigError(`--${m[1]}: expected a value`);
  }
  return { core, plugin };
}

/** CLI flags: `--host --port --root --database-url --docker --publish-host --base-image --backend --plugin --config`, and plugins' `--<plugin>-<key>`. */
export function parseFlags(argv: string[]): { config?: string; overrides: JinadConfigInput; flags: Record<string, string> } {
  const split = pluginFlags(argv);
  const { values } = parseArgs({
    args: split.core,
    strict: true,
    options: FLAG_OPTIONS,
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
  if (values.backend) o.backend = { kind: values.backend };
  if (values.auth !== undefined) {
    if (!/^(on|off)$/.test(values.auth)) throw new ConfigError(`--auth: expected on or off, got '${values.auth}'`);
    o.auth = values.auth === 'on';
  }
  if (values.insecure) o.insecure = true;
  if (values['public-name']) o.publicNames = values['public-name'];
  if (values['tls-cert'] || values['tls-key']) o.tls = { cert: values['tls-cert'] ?? '', key: values['tls-key'] ?? '' };
  return { config: values.config, overrides: o as JinadConfigInput, flags: split.plugin };
}

/** Whether an address to listen on is reachable from this machine only. */
export const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);

function containerLimitsOf(raw: { memory?: string | number | null; cpus?: number | null; pids?: number | null }): Resources {
  const out: Resources = {};
  for (const key of ['memory', 'cpus', 'pids'] as const) {
    const value = raw[key];
    if (value === undefined || value === null) continue;
    const r = parseResource(key, value);
    if ('problem' in r) throw new ConfigError(`invalid configuration: containerLimits.${key}: ${r.problem}`);
    out[key] = r.value;
  }
  return out;
}

/** `JINAD_*` and `JINA_*` variables: what plugins' slices and GET /status may read. */
const jinaEnv = (env: Env) => Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => /^JINAD?_/.test(e[0]) && e[1] !== undefined));

/**
 * Merge and validate. An invalid value fails with the key and the reason. Keys the core does
 * not know are plugin slices, merged the same way and validated by their plugins.
 */
export function resolveConfig(input: JinadConfigInput | JinadConfigInput[], raw: { env?: Env; flags?: Record<string, string> } = {}): JinadConfig {
  const layers = Array.isArray(input) ? input : [input];
  const merged: Record<string, unknown> = {};
  const slices: Record<string, Record<string, unknown>> = {};
  for (const layer of layers) {
    for (const [k, val] of Object.entries(layer)) {
      if (val === undefined) continue;
      if (!CORE_KEYS.has(k)) {
        if (!val || typeof val !== 'object' || Array.isArray(val)) throw new ConfigError(`invalid configuration: ${k}: expected the options of plugin '${k}' (an object)`);
        slices[k] = { ...slices[k], ...(val as object) };
      } else if (k === 'extraPlugins') merged[k] = [...((merged[k] as string[]) ?? []), ...(val as string[])];
      else if (k === 'limits' || k === 'logFiles' || k === 'containerLimits' || k === 'authThrottle') merged[k] = { ...(merged[k] as object), ...(val as object) };
      // One backend's keys from several layers (a file's registry, then `--backend swarm`); another kind replaces it.
      else if (k === 'backend' && (merged[k] as { kind?: unknown } | undefined)?.kind === (val as { kind?: unknown }).kind) merged[k] = { ...(merged[k] as object), ...(val as object) };
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
  if (!c.auth && !isLoopback(c.host) && !c.insecure) {
    throw new ConfigError(
      `refusing to listen on ${c.host} with authentication off: anyone who reaches it could run code on this machine. ` +
        'Turn authentication on (remove `auth: false` / JINAD_AUTH=off), listen on 127.0.0.1, or pass --insecure to run anyway',
    );
  }
  return Object.freeze({
    ...c,
    root,
    databaseUrl: c.databaseUrl ?? `file:${path.join(root, 'jinad.db')}`,
    limits: Object.freeze(c.limits as Required<typeof c.limits>),
    containerLimits: Object.freeze(containerLimitsOf(c.containerLimits)),
    authThrottle: Object.freeze(c.authThrottle as Required<typeof c.authThrottle>),
    logFiles: Object.freeze(c.logFiles as Required<typeof c.logFiles>),
    slices: Object.freeze(slices),
    env: Object.freeze(jinaEnv(raw.env ?? {})),
    flags: Object.freeze({ ...raw.flags }),
    deploymentEnv: Object.freeze(c.deployments ? { ...raw.env } : {}),
  });
}

/** Load `jinad.config.ts` (or the given file) and apply env and flag overrides. */
export async function loadConfig(opts: { argv?: string[]; env?: Env; cwd?: string } = {}): Promise<JinadConfig> {
  const env = opts.env ?? process.env;
  const { config: configPath, overrides, flags } = parseFlags(opts.argv ?? []);
  const file = configPath ?? env.JINAD_CONFIG ?? path.join(opts.cwd ?? process.cwd(), 'jinad.config.ts');
  let fileConfig: JinadConfigInput = {};
  if (existsSync(file)) {
    try {
      const mod = await importUserModule(path.resolve(file));
      fileConfig = mod.default ?? {};
    } catch (err) {
      throw new ConfigError(`cannot load ${file}: ${(err as Error).message}`);
    }
    // Relative plugin folders in the file are relative to the file.
    const base = path.dirname(path.resolve(file));
    const rel = (p: string) => (p.startsWith('.') ? path.resolve(base, p) : p);
    fileConfig = { ...fileConfig, plugins: fileConfig.plugins?.map(rel), extraPlugins: fileConfig.extraPlugins?.map(rel), deploymentsBase: fileConfig.deploymentsBase ?? base };
  } else if (configPath || env.JINAD_CONFIG) {
    throw new ConfigError(`config file ${file} does not exist`);
  }
  return resolveConfig([fileConfig, fromEnv(env), overrides], { env, flags });
}
