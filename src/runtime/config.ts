/**
 * Flow and Executor YAML in Jina 2 syntax, and Pod/Pea arguments as JSON, turned into specs.
 * Every error names the file, the field and what was expected. `${{ ENV.X }}` is substituted
 * from the environment the caller gives (a process passes its own; the daemon passes the
 * object's, never its own); a value that is only a substitution takes the type it reads as
 * (`port_expose: ${{ ENV.PORT }}` is a number).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as v from 'valibot';
import YAML from 'yaml';
import { KeyValueError, parseKeyValues } from '../contract/kv.ts';
import { readInside, UnsafePathError } from './safe-files.ts';

export class DefinitionError extends Error {
  constructor(readonly where: string, readonly field: string, detail: string) {
    super(`${where}: ${field ? `${field}: ` : ''}${detail}`);
  }
}

/** Where an executor's class comes from. */
export type UsesSpec =
  | { kind: 'passthrough' }
  | { kind: 'class'; className: string; modules: string[]; with: Record<string, unknown>; metas: Record<string, unknown>; python?: boolean };

export interface ExecutorSpec {
  name: string;
  uses: UsesSpec;
  /** `with` of the executor YAML, overridden by `uses_with`. */
  usesWith: Record<string, unknown>;
  replicas: number;
  needs: string[];
  env: Record<string, string>;
  /** Remote: deployed through the JinaD at this host. */
  host?: string;
  portJinad?: number;
  /** Remote: the token sent to that JinaD, `https` to reach it over TLS trusting `cacert` (a PEM file). */
  token?: string;
  https?: boolean;
  cacert?: string;
  uploadFiles: string[];
  /** Shards: copies that each get a part (`polling: any`, one per request) or all (`all`) of the requests. */
  shards: number;
  polling: 'any' | 'all';
  /** Executors run before the shards get a request, and after (it then gets every shard's answer as `docsMatrix`). */
  usesBefore?: UsesSpec;
  usesAfter?: UsesSpec;
  /** How long a replica may take to load (ms); undefined: forever (`timeout_ready: -1`). */
  timeoutReadyMs?: number;
  /** Endpoint → method, over the executor's own `@requests` bindings. */
  usesRequests: Record<string, string>;
  /** At a join (`needs: [a, b]`): hand the branches over as `docsMatrix`, unmerged. */
  disableReduce: boolean;
  workspaceId?: string;
  /** Fixed port of the Pod's head (otherwise chosen when it starts). */
  portIn?: number;
  /** Folder relative paths resolve against. */
  dir: string;
}

export interface FlowSpec {
  name: string;
  protocol: 'http' | 'websocket' | 'grpc';
  portExpose?: number;
  /** Seconds without a request before the daemon stops the Flow (it wakes on the next one); a daemon setting, unused by the runtime. */
  idleTimeout?: number;
  title?: string;
  description?: string;
  cors: boolean;
  exposeEndpoints: Record<string, { methods?: string[] }>;
  executors: ExecutorSpec[];
  dir: string;
  source: string;
}

type Env = Record<string, string | undefined>;
/** `${{ ENV.X }}`, as Jina writes an environment reference (X is the first group). */
export const ENV_EXPR = /\$\{\{\s*ENV\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
const MODULE_EXT = /\.(ts|mts|cts|js|mjs|cjs)$/;

function substitute(value: unknown, env: Env, where: string, field: string): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${{')) return value;
    const whole = /^\$\{\{\s*ENV\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$/.exec(value.trim());
    const lookup = (name: string) => {
      const got = env[name];
      if (got === undefined) throw new DefinitionError(where, field, `environment variable ${name} is not set (used as \${{ ENV.${name} }})`);
      return got;
    };
    if (whole) return YAML.parse(lookup(whole[1]!)) ?? '';
    return value.replace(ENV_EXPR, (_m, name: string) => lookup(name));
  }
  if (Array.isArray(value)) return value.map((x, i) => substitute(x, env, where, `${field}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, substitute(x, env, where, field ? `${field}.${k}` : k)]));
  }
  return value;
}

const MAX_YAML_BYTES = 1024 * 1024;
const MAX_ALIASES = 100;

/**
 * Where user files may be: with `root` (the daemon reading a workspace), every path a
 * definition names must resolve inside it, and files are read through safe-files (no symlink
 * followed, checked on the descriptor). Without it (a local run), paths are the user's own.
 */
export interface Confinement {
  root?: string;
  /** Whether the executor's image has Python (false: `.py` modules are refused, saying how to add it); undefined: not known, allowed. */
  python?: boolean;
}

export const NO_PYTHON = 'this workspace has no Python: add a requirements.txt or `python = 3` to .jinad';

/** An absolute path a definition names, checked against the confinement. */
function confined(c: Confinement, abs: string, shown: string, where: string, field: string): string {
  if (c.root && abs !== c.root && !abs.startsWith(`${c.root}${path.sep}`)) throw new DefinitionError(where, field, `'${shown}' must be a path inside the workspace`);
  return abs;
}

/** Read a user file: through safe-files when confined. Errors name the path, never the content. */
function readUserFile(c: Confinement, file: string, where: string): string {
  if (!c.root) {
    if (!existsSync(file)) throw new DefinitionError(where, '', 'file not found');
    return readFileSync(file, 'utf8');
  }
  try {
    return readInside(c.root, file, { what: 'file', maxBytes: MAX_YAML_BYTES });
  } catch (err) {
    if (err instanceof UnsafePathError) throw new DefinitionError(where, '', err.message);
    throw err;
  }
}

/** Parse YAML like PyYAML does for Jina files: duplicate keys allowed, `!Flow`-style tags read as jtype. */
function parseYaml(source: string, where: string): Record<string, unknown> {
  if (source.length > MAX_YAML_BYTES) throw new DefinitionError(where, '', `larger than ${MAX_YAML_BYTES} bytes`);
  const doc = YAML.parseDocument(source, { uniqueKeys: false, logLevel: 'silent' });
  const err = doc.errors[0];
  if (err) throw new DefinitionError(where, '', `invalid YAML at line ${err.linePos?.[0].line ?? '?'}: ${err.message.split('\n')[0]}`);
  let value: unknown;
  try {
    // Aliases are expanded at most MAX_ALIASES times: a "billion laughs" document is refused, not expanded.
    value = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (e) {
    throw new DefinitionError(where, '', `cannot be read: ${(e as Error).message}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new DefinitionError(where, '', 'expected a mapping at the top level');
  const tag = (doc.contents as { tag?: string } | null)?.tag;
  const obj = value as Record<string, unknown>;
  if (tag && !obj.jtype) obj.jtype = tag.replace(/^!/, '');
  return obj;
}

const Port = v.pipe(v.number('expected a port number'), v.integer('expected a port number'), v.minValue(1, 'expected a port number (1-65535)'), v.maxValue(65535, 'expected a port number (1-65535)'));
const StrList = v.union([v.string(), v.array(v.string())], 'expected a string or a list of strings');
const Obj = v.record(v.string(), v.unknown(), 'expected a mapping');

const ExecutorEntry = v.looseObject({
  name: v.optional(v.pipe(v.string('expected a name'), v.regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, _ . or -'))),
  uses: v.optional(v.union([v.string(), v.looseObject({ jtype: v.optional(v.string()), with: v.optional(Obj), metas: v.optional(Obj) })], 'expected a class name, a YAML file or a mapping')),
  uses_with: v.optional(Obj),
  uses_metas: v.optional(Obj),
  py_modules: v.optional(StrList),
  modules: v.optional(StrList),
  replicas: v.optional(v.pipe(v.number('expected a positive integer'), v.integer('expected a positive integer'), v.minValue(1, 'expected a positive integer'))),
  parallel: v.optional(v.pipe(v.number('expected a positive integer'), v.integer(), v.minValue(1))),
  shards: v.optional(v.pipe(v.number('expected a positive integer'), v.integer('expected a positive integer'), v.minValue(1, 'expected a positive integer'))),
  // As Jina writes it: a name (any case) or the enum's number (1 ANY, 2 ALL, 3 ALL_ASYNC).
  polling: v.optional(v.union([v.pipe(v.string(), v.regex(/^(any|all|all_async)$/i, "expected 'any' or 'all'")), v.picklist([1, 2, 3])], "expected 'any' or 'all'")),
  uses_before: v.optional(v.string('expected a class name or an executor YAML')),
  uses_after: v.optional(v.string('expected a class name or an executor YAML')),
  timeout_ready: v.optional(v.pipe(v.number('expected milliseconds (-1: forever)'), v.integer('expected milliseconds (-1: forever)'), v.minValue(-1, 'expected milliseconds (-1: forever)'))),
  uses_requests: v.optional(
    v.pipe(
      v.unknown(),
      v.check((r) => typeof r === 'object' && r !== null && !Array.isArray(r), 'expected a mapping of endpoints to method names'),
      v.record(v.string(), v.string('expected a method name')),
    ),
  ),
  disable_reduce: v.optional(v.boolean('expected true or false')),
  needs: v.optional(StrList),
  env: v.optional(v.record(v.string(), v.union([v.string(), v.number(), v.boolean()]), 'expected a mapping of names to values')),
  host: v.optional(v.string()),
  port_jinad: v.optional(Port),
  token: v.optional(v.string()),
  https: v.optional(v.boolean()),
  cacert: v.optional(v.string()),
  port_in: v.optional(Port),
  upload_files: v.optional(StrList),
  workspace_id: v.optional(v.string()),
});

const FlowYaml = v.looseObject({
  jtype: v.optional(v.literal('Flow', "expected 'Flow'")),
  version: v.optional(v.union([v.string(), v.number()])),
  with: v.optional(
    v.looseObject({
      name: v.optional(v.string()),
      protocol: v.optional(v.picklist(['http', 'websocket', 'grpc', 'HTTP', 'WEBSOCKET', 'GRPC'], "expected 'http', 'websocket' or 'grpc'")),
      port_expose: v.optional(Port),
      idle_timeout: v.optional(v.pipe(v.number('expected seconds'), v.minValue(0, 'expected seconds (0: never idle)'), v.maxValue(86_400, 'expected at most 86400 seconds (a day)'))),
      title: v.optional(v.string()),
      description: v.optional(v.string()),
      cors: v.optional(v.boolean('expected true or false')),
      expose_endpoints: v.optional(v.union([v.string(), v.record(v.string(), v.looseObject({ methods: v.optional(v.array(v.string())) }))])),
    }),
  ),
  executors: v.optional(v.array(ExecutorEntry, 'expected a list of executors')),
  pods: v.optional(v.array(ExecutorEntry, 'expected a list of executors')),
});

function check<S extends v.GenericSchema>(schema: S, value: unknown, where: string, prefix = ''): v.InferOutput<S> {
  const r = v.safeParse(schema, value);
  if (r.success) return r.output;
  const issue = r.issues[0];
  const field = [prefix, ...(issue.path ?? []).map((p) => (typeof p.key === 'number' ? `[${p.key}]` : String(p.key)))].filter(Boolean).join('.').replace(/\.\[/g, '[');
  const got = issue.input === undefined ? '' : `, got ${JSON.stringify(issue.input)}`;
  throw new DefinitionError(where, field, `${issue.message.startsWith('expected') ? issue.message : issue.message}${got}`);
}

const list = (x: string | string[] | undefined) => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

/** An executor's modules: all TypeScript/JavaScript, or all Python (run by a Python worker, see python.ts). */
function checkModules(modules: string[], where: string, field: string, c: Confinement): string[] {
  const python = modules.filter((m) => m.endsWith('.py'));
  if (python.length && python.length !== modules.length) throw new DefinitionError(where, field, `mixes Python and TypeScript/JavaScript modules (${modules.join(', ')}); an executor is one or the other`);
  if (python.length && c.python === false) throw new DefinitionError(where, field, `'${python[0]}' is a Python module; ${NO_PYTHON}`);
  for (const m of modules) {
    if (!m.endsWith('.py') && !MODULE_EXT.test(m)) throw new DefinitionError(where, field, `'${m}' is not a Python, TypeScript or JavaScript file`);
  }
  return modules;
}

const isPython = (modules: string[]) => modules.length > 0 && modules.every((m) => m.endsWith('.py'));

/** An executor YAML file (`jtype: MyExecutor`, `with`, `metas.py_modules`). */
export function loadExecutorYaml(file: string, env: Env, c: Confinement = {}): UsesSpec & { kind: 'class' } {
  const shown = c.root ? path.relative(c.root, file) : file;
  const raw = substitute(parseYaml(readUserFile(c, file, shown), shown), env, shown, '') as Record<string, unknown>;
  return inlineUses(raw, path.dirname(file), shown, '', c);
}

function inlineUses(raw: Record<string, unknown>, dir: string, where: string, field: string, c: Confinement): UsesSpec & { kind: 'class' } {
  const spec = check(v.looseObject({ jtype: v.string('expected the executor class name'), with: v.optional(Obj), metas: v.optional(Obj) }), raw, where, field);
  const metas = spec.metas ?? {};
  const modules = list((metas.py_modules ?? metas.modules ?? undefined) as string | string[] | undefined);
  const at = `${field ? `${field}.` : ''}metas.py_modules`;
  checkModules(modules, where, at, c);
  return { kind: 'class', className: spec.jtype, modules: modules.map((m) => confined(c, path.resolve(dir, m), m, where, at)), with: spec.with ?? {}, metas, python: isPython(modules) };
}

/** One executor entry of a Flow, or the JSON arguments of a Pod or Pea. */
export function executorSpec(raw: unknown, opts: { dir: string; where: string; field?: string; env: Env; index?: number } & Confinement): ExecutorSpec {
  const field = opts.field ?? '';
  // `null` is unset, as Jina's own parser leaves every option not given (`py_modules: null`).
  const given = raw && typeof raw === 'object' && !Array.isArray(raw) ? Object.fromEntries(Object.entries(raw).filter(([, x]) => x !== null)) : raw;
  const e = check(ExecutorEntry, substitute(given, opts.env, opts.where, field), opts.where, field);
  const at = (f: string) => (field ? `${field}.${f}` : f);
  const name = e.name ?? `executor${opts.index ?? 0}`;
  const polling: ExecutorSpec['polling'] = e.polling === 2 || e.polling === 3 || (typeof e.polling === 'string' && e.polling.toLowerCase().startsWith('all')) ? 'all' : 'any';
  let uses: UsesSpec = { kind: 'passthrough' };
  const modules = checkModules(list(e.py_modules ?? e.modules ?? ((e.uses_metas?.py_modules ?? undefined) as string[] | undefined)), opts.where, at('py_modules'), opts);
  const resolved = (m: string, f: string) => confined(opts, path.resolve(opts.dir, m), m, opts.where, at(f));
  /** `uses` (and `uses_before`, `uses_after`) as a string: a class of py_modules, an executor YAML, or none. */
  const usesOf = (text: string, f: string): UsesSpec => {
    const u = text.trim();
    if (/^(docker|jinahub(\+docker)?):\/\//.test(u)) {
      throw new DefinitionError(opts.where, at(f), `'${u}': Hub and Docker executors need a container registry, which this runtime cannot reach`);
    }
    if (/\.ya?ml$/.test(u)) return loadExecutorYaml(resolved(u, f), opts.env, opts);
    // Jina's own no-op and reducers (`_pass`, `_merge`, `_merge_matches`, …) are what the runtime does by itself.
    if (u === 'BaseExecutor' || u === '' || /^_(pass|merge\w*)$/.test(u)) return { kind: 'passthrough' };
    if (!modules.length) throw new DefinitionError(opts.where, at(f), `'${u}' is a class name; list the file that defines it in py_modules (e.g. py_modules: [executor.ts])`);
    return { kind: 'class', className: u, modules: modules.map((m) => resolved(m, 'py_modules')), with: {}, metas: {}, python: isPython(modules) };
  };
  if (typeof e.uses === 'string') {
    uses = usesOf(e.uses, 'uses');
  } else if (e.uses) {
    const inline = inlineUses(e.uses, opts.dir, opts.where, at('uses'), opts);
    if (modules.length && !inline.modules.length) Object.assign(inline, { modules: modules.map((m) => resolved(m, 'py_modules')), python: isPython(modules) });
    uses = inline;
  }
  return {
    name,
    uses,
    usesWith: { ...(uses.kind === 'class' ? uses.with : {}), ...(e.uses_with ?? {}) },
    // Jina 2.0's `parallel` is what 2.1 calls shards: with polling all it shards, with any it balances (as replicas do).
    replicas: e.replicas ?? (polling === 'any' ? e.parallel : undefined) ?? 1,
    shards: e.shards ?? (polling === 'all' ? e.parallel : undefined) ?? 1,
    polling,
    usesBefore: e.uses_before === undefined ? undefined : usesOf(e.uses_before, 'uses_before'),
    usesAfter: e.uses_after === undefined ? undefined : usesOf(e.uses_after, 'uses_after'),
    timeoutReadyMs: e.timeout_ready === -1 ? undefined : (e.timeout_ready ?? 60_000),
    usesRequests: e.uses_requests ?? {},
    disableReduce: e.disable_reduce ?? false,
    needs: list(e.needs),
    env: Object.fromEntries(Object.entries(e.env ?? {}).map(([k, x]) => [k, String(x)])),
    // Remote when it names a JinaD: a port (`host: 1.2.3.4:8000` or `port_jinad`) or a host that is not this one.
    host: e.host && (e.port_jinad !== undefined || e.host.includes(':') || !['localhost', '127.0.0.1', '0.0.0.0'].includes(e.host)) ? e.host : undefined,
    portJinad: e.port_jinad,
    token: e.token || undefined,
    https: e.https,
    cacert: e.cacert === undefined ? undefined : resolved(e.cacert, 'cacert'),
    uploadFiles: list(e.upload_files).map((f) => (opts.root ? (confined(opts, path.resolve(opts.dir, f), f, opts.where, at('upload_files')), f) : f)),
    workspaceId: e.workspace_id,
    portIn: e.port_in,
    dir: opts.dir,
  };
}

/** `['A=1', 'B=x=y']` → `{A: '1', B: 'x=y'}` (the contract's parser); an entry without `=` is an error naming `what`. */
export function parseEnvs(list: string[] = [], what = '--env'): Record<string, string> {
  try {
    return parseKeyValues(list, what);
  } catch (err) {
    if (err instanceof KeyValueError) throw new DefinitionError(what, '', err.message);
    throw err;
  }
}

/** A Flow YAML text. `where` names it in errors (its file name). */
export function parseFlow(source: string, opts: { where: string; dir: string; env?: Env } & Confinement): FlowSpec {
  // Only the given environment: the daemon validates a user's YAML with the object's envs, never its own.
  const env = opts.env ?? {};
  const raw = substitute(parseYaml(source, opts.where), env, opts.where, '') as Record<string, unknown>;
  const flow = check(FlowYaml, raw, opts.where);
  const entries = flow.executors ?? flow.pods ?? [];
  const executors = entries.map((e, i) => executorSpec(e, { dir: opts.dir, where: opts.where, field: `executors[${i}]`, env, index: i, root: opts.root, python: opts.python }));
  const names = new Set<string>(['gateway']);
  for (const [i, e] of executors.entries()) {
    if (names.has(e.name)) throw new DefinitionError(opts.where, `executors[${i}].name`, `'${e.name}' is used twice`);
    for (const n of e.needs) if (!names.has(n)) throw new DefinitionError(opts.where, `executors[${i}].needs`, `'${n}' is not an executor defined before '${e.name}'`);
    names.add(e.name);
  }
  const w = flow.with ?? {};
  let expose = w.expose_endpoints ?? {};
  if (typeof expose === 'string') {
    try {
      expose = JSON.parse(expose) as Record<string, { methods?: string[] }>;
    } catch {
      throw new DefinitionError(opts.where, 'with.expose_endpoints', 'expected a mapping or a JSON object');
    }
  }
  return {
    name: w.name ?? 'gateway',
    protocol: (w.protocol ?? 'http').toLowerCase() as FlowSpec['protocol'],
    portExpose: w.port_expose,
    idleTimeout: w.idle_timeout,
    title: w.title,
    description: w.description,
    cors: w.cors ?? false,
    exposeEndpoints: expose as Record<string, { methods?: string[] }>,
    executors,
    dir: opts.dir,
    source,
  };
}

/** A Flow YAML file; with `root`, read as a user's file inside it (see Confinement). */
export function loadFlow(file: string, env?: Env, c: Confinement = {}): FlowSpec {
  const where = path.basename(file);
  return parseFlow(readUserFile(c, file, c.root ? path.relative(c.root, file) : file), { where, dir: path.dirname(path.resolve(file)), env, root: c.root, python: c.python });
}
