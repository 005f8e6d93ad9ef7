/**
 * A typed client for a JinaD daemon. Types come from the same valibot schemas the daemon
 * validates with; errors are typed (not found, invalid, failed with a reason, unreachable).
 *
 *   const jinad = new JinaDClient('http://127.0.0.1:8000');
 *   const ws = await jinad.workspaces.create(['./my-project'], { onLog: (l) => console.log(l.message) });
 *   const flow = await jinad.flows.create(ws, 'flow.yml', { PORT: '12345' });
 *   for await (const line of jinad.logs(flow, { follow: true })) console.log(line.message);
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { zipSync } from 'fflate';
import { Agent, fetch as fetchWith } from 'undici';
import type { StoreStatus } from '../contract/common.ts';
import type { LogRecord } from '../contract/logs.ts';
import type { AuditRecord, DeploymentDetail, DeploymentProgress, DesiredDeployment, NewToken, ObjectItem, Plan, Scope, TokenInfo, WorkspaceItem } from '../contract/index.ts';

export type { AuditRecord, DeploymentDetail, DeploymentProgress, DesiredDeployment, NewToken, ObjectItem, Plan, Scope, StoreStatus, TokenInfo, WorkspaceItem };
/** One line of a log, as the daemon writes it. */
export type LogLine = LogRecord;

/** The JSON lines of a streamed answer as they arrive (blank lines, heartbeats, skipped). */
async function* ndjson<T>(res: { body: unknown }): AsyncGenerator<T> {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) yield JSON.parse(line) as T;
    }
  }
}

/** Any error from the daemon or the way to it. `detail` is the daemon's own message. */
export class JinaDError extends Error {
  constructor(message: string, readonly status?: number, readonly body?: unknown) {
    super(message);
  }
}
export class NotFoundError extends JinaDError {}
export class InvalidError extends JinaDError {}
/** A 400: the object could not be made; `body` has the cause and the container's last lines. */
export class FailedError extends JinaDError {}
export class UnreachableError extends JinaDError {}
/** 401 (no token, or not a valid one) or 403 (the token's scope does not allow the call). */
export class UnauthorizedError extends JinaDError {}
/** A workspace whose build failed: `reason` and the last build lines. */
export class WorkspaceFailedError extends JinaDError {
  constructor(readonly workspaceId: string, readonly reason: string, readonly logTail: string[]) {
    super(`workspace ${workspaceId} FAILED: ${reason}`);
  }
}

function detailText(detail: unknown): string {
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) return detail.map((d) => (d && typeof d === 'object' && 'msg' in d ? `${(d as { loc?: string[] }).loc?.join('.')}: ${(d as { msg: string }).msg}` : String(d))).join('; ');
  return JSON.stringify(detail);
}

export interface ClientOptions {
  /**
   * Bearer token (sent as `Authorization`). Default: JINAD_TOKEN, else, for a daemon on this
   * machine, the admin token it wrote to `<root>/admin.token` (root: `root`, JINAD_ROOT, /tmp/jinad).
   */
  token?: string;
  /** A CA certificate (PEM file) to trust for an `https://` daemon; default: JINAD_CACERT. */
  cacert?: string;
  /** The daemon's root, where a local daemon keeps `admin.token`. */
  root?: string;
  timeoutMs?: number;
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|::1)$/;

/** The token to send: given, JINAD_TOKEN, or a local daemon's admin token file when readable. */
export function defaultToken(url: string, opts: { token?: string; root?: string } = {}): string | undefined {
  if (opts.token) return opts.token;
  if (process.env.JINAD_TOKEN) return process.env.JINAD_TOKEN.trim();
  if (!LOOPBACK.test(new URL(url).hostname)) return undefined;
  try {
    return readFileSync(path.join(opts.root ?? process.env.JINAD_ROOT ?? '/tmp/jinad', 'admin.token'), 'utf8').trim() || undefined;
  } catch {
    return undefined; // no local daemon's file, or not ours to read
  }
}

export interface CreateWorkspaceOptions {
  /** Use (or create) this workspace id. An ACTIVE one with the same id is updated. */
  id?: string;
  /** Build output, line by line, while waiting for ACTIVE. */
  onLog?: (line: LogLine) => void;
  /** Bytes of the upload, before the build. */
  onUpload?: (bytes: number) => void;
  /** Don't wait for the build; return the id at once. */
  noWait?: boolean;
}

/** The multipart body for paths: files by their base name, folders zipped as `<name>.zip` (relative paths kept). */
export function workspaceForm(paths: string[]): { form: FormData; bytes: number } {
  const form = new FormData();
  let bytes = 0;
  for (const p of paths) {
    if (!existsSync(p)) throw new JinaDError(`${p} does not exist`);
    if (statSync(p).isDirectory()) {
      const files: Record<string, Uint8Array> = {};
      const walk = (dir: string, rel: string) => {
        for (const e of readdirSync(dir, { withFileTypes: true })) {
          if (e.name === 'node_modules' || e.name === '.git') continue;
          const r = rel ? `${rel}/${e.name}` : e.name;
          if (e.isDirectory()) walk(path.join(dir, e.name), r);
          else if (e.isFile()) files[r] = readFileSync(path.join(dir, e.name));
        }
      };
      walk(p, '');
      const zip = zipSync(files);
      bytes += zip.length;
      form.append('files', new Blob([zip]), `${path.basename(path.resolve(p))}.zip`);
    } else {
      const data = readFileSync(p);
      bytes += data.length;
      form.append('files', new Blob([data]), path.basename(p));
    }
  }
  return { form, bytes };
}

export class JinaDClient {
  readonly url: string;
  private token?: string;
  private timeoutMs: number;
  /** fetch, trusting the given CA when there is one. */
  private fetch: typeof fetch;

  constructor(url = 'http://127.0.0.1:8000', opts: ClientOptions = {}) {
    this.url = url.replace(/\/+$/, '').replace(/^(?!https?:\/\/)/, 'http://');
    this.token = defaultToken(this.url, opts);
    this.timeoutMs = opts.timeoutMs ?? 600_000;
    const cacert = opts.cacert ?? process.env.JINAD_CACERT;
    if (cacert) {
      let ca: string;
      try {
        ca = readFileSync(cacert, 'utf8');
      } catch (err) {
        throw new JinaDError(`cannot read the CA certificate ${cacert}: ${(err as Error).message}`);
      }
      const dispatcher = new Agent({ connect: { ca } });
      this.fetch = ((input: string, init?: RequestInit) => fetchWith(input, { ...(init as object), dispatcher })) as unknown as typeof fetch;
    } else {
      this.fetch = globalThis.fetch;
    }
  }

  /** Headers every call carries. */
  private headers(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  /** One request; a non-2xx answer becomes the matching typed error. */
  async request<T>(method: string, route: string, init: { json?: unknown; body?: BodyInit; signal?: AbortSignal } = {}): Promise<T> {
    const headers = this.headers();
    if (init.json !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await this.fetch(`${this.url}${route}`, {
        method,
        headers,
        body: init.json !== undefined ? JSON.stringify(init.json) : init.body,
        signal: init.signal ?? AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new UnreachableError(`cannot reach JinaD at ${this.url}: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}`);
    }
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // not JSON
    }
    if (res.ok) return body as T;
    throw this.errorOf(res.status, detailText((body as { detail?: unknown })?.detail ?? body), (body as { body?: unknown })?.body);
  }

  /** The typed error of a failed call. */
  private errorOf(status: number, detail: string, extra?: unknown): JinaDError {
    if (status === 401) return new UnauthorizedError(`${detail} (JinaD at ${this.url}; set JINAD_TOKEN or --token)`, 401, extra);
    if (status === 403) return new UnauthorizedError(detail, 403, extra);
    if (status === 404) return new NotFoundError(detail, 404, extra);
    if (status === 422) return new InvalidError(detail, 422, extra);
    if (status === 400) return new FailedError(detail, 400, extra);
    if (status === 503) return new UnreachableError(detail, 503, extra);
    return new JinaDError(detail, status, extra);
  }

  /**
   * Deployments: plan and apply a deployment resolved on this machine (see src/deploy/source.ts:
   * its files as hashes, their paths here), list, show, delete. An apply uploads only the files
   * the daemon's plan asks for, and reports each step through `onProgress` as it happens.
   */
  readonly deployments = {
    list: () => this.request<Record<string, DeploymentDetail>>('GET', '/deployments'),
    get: (name: string) => this.request<DeploymentDetail>('GET', `/deployments/${encodeURIComponent(name)}`),
    remove: (name: string) => this.request<null>('DELETE', `/deployments/${encodeURIComponent(name)}`, { signal: AbortSignal.timeout(10 * 60_000) }),
    plan: (name: string, desired: DesiredDeployment, prune = false) => this.request<Plan>('POST', '/deployments/plan', { json: { name, deployment: desired, prune } }),
    apply: async (name: string, resolved: { desired: DesiredDeployment; paths: Map<string, string> }, opts: { prune?: boolean; onProgress?: (p: DeploymentProgress) => void; signal?: AbortSignal } = {}): Promise<Plan> => {
      const plan = await this.deployments.plan(name, resolved.desired, opts.prune);
      const form = new FormData();
      form.append('deployment', JSON.stringify(resolved.desired));
      for (const rel of plan.upload) form.append('files', new Blob([readFileSync(resolved.paths.get(rel)!)]), rel);
      let res: Response;
      try {
        res = await this.fetch(`${this.url}/deployments/${encodeURIComponent(name)}${opts.prune ? '?prune=true' : ''}`, {
          method: 'PUT',
          headers: { ...this.headers(), accept: 'application/x-ndjson' },
          body: form,
          signal: opts.signal,
        });
      } catch (err) {
        throw new UnreachableError(`cannot reach JinaD at ${this.url}: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}`);
      }
      if (!res.ok) {
        const body = (await res.json().catch(() => ({}))) as { detail?: unknown; body?: unknown };
        throw this.errorOf(res.status, detailText(body.detail ?? `HTTP ${res.status}`), body.body);
      }
      for await (const line of ndjson<{ progress?: DeploymentProgress; result?: Plan; error?: { status: number; detail: string; body: unknown } }>(res)) {
        if (line.progress) opts.onProgress?.(line.progress);
        if (line.result) return line.result;
        if (line.error) throw this.errorOf(line.error.status, line.error.detail, line.error.body);
      }
      throw new JinaDError('the apply ended without a result (the connection closed)');
    },
  };

  /** True when the daemon answers. */
  async alive(): Promise<boolean> {
    try {
      await this.request('GET', '/', { signal: AbortSignal.timeout(5000) });
      return true;
    } catch {
      return false;
    }
  }

  status(): Promise<Record<string, unknown>> {
    return this.request('GET', '/status');
  }

  /** A log: the tail, then (with `follow`) new lines until the signal aborts or the object goes away. */
  async *logs(id: string, opts: { follow?: boolean; tail?: number; since?: string; signal?: AbortSignal } = {}): AsyncGenerator<LogLine> {
    const q = new URLSearchParams();
    if (opts.follow) q.set('follow', 'true');
    if (opts.tail !== undefined) q.set('tail', String(opts.tail));
    if (opts.since) q.set('since', opts.since);
    if (!opts.follow && opts.tail === undefined && !opts.since) q.set('tail', '1000000');
    let res: Response;
    try {
      res = await this.fetch(`${this.url}/logs/${id}?${q}`, { signal: opts.signal, headers: this.headers() });
    } catch (err) {
      if (opts.signal?.aborted) return;
      throw new UnreachableError(`cannot reach JinaD at ${this.url}: ${(err as Error).message}`);
    }
    if (!res.ok) {
      const body = (await res.json().catch(() => ({}))) as { detail?: unknown };
      const detail = detailText(body.detail ?? `HTTP ${res.status}`);
      if (res.status === 404) throw new NotFoundError(detail, 404);
      if (res.status === 401 || res.status === 403) throw new UnauthorizedError(detail, res.status);
      throw new JinaDError(detail, res.status);
    }
    try {
      yield* ndjson<LogLine>(res);
    } catch (err) {
      if (!opts.signal?.aborted) throw err;
    }
  }

  /** Tokens (admin scope): make one (its text is in this answer only), list, remove. */
  readonly tokens = {
    list: () => this.request<TokenInfo[]>('GET', '/tokens'),
    create: (name: string, scope: Scope, expires?: string) => this.request<NewToken>('POST', '/tokens', { json: { name, scope, expires } }),
    remove: (name: string) => this.request<{ name: string }>('DELETE', `/tokens/${encodeURIComponent(name)}`),
  };

  /** The audit trail (admin scope), newest first; `before` pages back by `seq`. */
  audit(opts: { limit?: number; before?: number } = {}): Promise<AuditRecord[]> {
    const q = new URLSearchParams(Object.entries(opts).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
    return this.request<AuditRecord[]>('GET', `/audit?${q}`);
  }

  readonly workspaces = {
    list: () => this.request<StoreStatus<WorkspaceItem>>('GET', '/workspaces'),
    get: (id: string) => this.request<WorkspaceItem>('GET', `/workspaces/${id}`),
    /** Upload files and folders, then wait for ACTIVE (yielding build lines); throws WorkspaceFailedError on FAILED. */
    create: async (paths: string[], opts: CreateWorkspaceOptions = {}): Promise<string> => {
      const { form, bytes } = workspaceForm(paths);
      opts.onUpload?.(bytes);
      const res = await this.request<Record<string, WorkspaceItem>>('POST', `/workspaces${opts.id ? `?id=${encodeURIComponent(opts.id)}` : ''}`, { body: form });
      const [id, item] = Object.entries(res)[0]!;
      if (!opts.noWait) await this.workspaces.wait(id, opts.onLog, item.time_updated);
      return id;
    },
    update: async (id: string, paths: string[], opts: Omit<CreateWorkspaceOptions, 'id'> = {}): Promise<string> => {
      const { form, bytes } = workspaceForm(paths);
      opts.onUpload?.(bytes);
      const res = await this.request<Record<string, WorkspaceItem>>('PUT', `/workspaces/${id}`, { body: form });
      if (!opts.noWait) await this.workspaces.wait(id, opts.onLog, res[id]?.time_updated);
      return id;
    },
    /** Wait until the workspace's queued builds are done: ACTIVE, or WorkspaceFailedError. Build lines since `since` go to `onLog`. */
    wait: async (id: string, onLog?: (line: LogLine) => void, since?: string): Promise<WorkspaceItem> => {
      const stop = new AbortController();
      const following = onLog
        ? (async () => {
            try {
              for await (const line of this.logs(id, { follow: true, ...(since ? { since } : { tail: 0 }), signal: stop.signal })) onLog(line);
            } catch {
              // the stream is a convenience; the state below decides
            }
          })()
        : undefined;
      try {
        for (;;) {
          const item = await this.workspaces.get(id);
          if (item.queued === 0 && item.state === 'ACTIVE') return item;
          if (item.queued === 0 && item.state === 'FAILED') throw new WorkspaceFailedError(id, item.reason ?? 'unknown', item.log_tail);
          await new Promise((r) => setTimeout(r, 200));
        }
      } finally {
        await new Promise((r) => setTimeout(r, 100)); // let the last build lines arrive
        stop.abort();
        await following;
      }
    },
    delete: (id: string, flags: { container?: boolean; network?: boolean; files?: boolean; everything?: boolean } = { everything: true }) => {
      const q = new URLSearchParams(Object.entries(flags).map(([k, v]) => [k, String(v)]));
      return this.request<null>('DELETE', `/workspaces/${id}?${q}`);
    },
    clear: () => this.request<null>('DELETE', '/workspaces'),
  };

  /** The routes of any object kind, including kinds a plugin adds: `client.objects('worker').list()`. */
  objects(kind: string) {
    const base = `/${kind}s`;
    return {
      /** Create from JSON arguments (Pods, Peas, and kinds created from a body). */
      createFrom: (workspaceId: string, args: Record<string, unknown>, envs: Record<string, string> = {}) =>
        this.request<string>('POST', `${base}?workspace_id=${encodeURIComponent(workspaceId)}${this.envsQuery(envs)}`, { json: args }),
      list: () => this.request<StoreStatus<ObjectItem>>('GET', base),
      get: (id: string) => this.request<ObjectItem>('GET', `${base}/${id}`),
      delete: (id: string) => this.request<null>('DELETE', `${base}/${id}`),
      clear: () => this.request<null>('DELETE', base),
      arguments: () => this.request<Record<string, { title?: string; description?: string }>>('GET', `${base}/arguments`),
    };
  }
  private envsQuery(envs: Record<string, string>): string {
    return Object.entries(envs).map(([k, v]) => `&envs=${encodeURIComponent(`${k}=${v}`)}`).join('');
  }

  readonly flows = {
    ...this.objects('flow'),
    create: (workspaceId: string, filename: string, envs: Record<string, string> = {}) =>
      this.request<string>('POST', `/flows?workspace_id=${workspaceId}&filename=${encodeURIComponent(filename)}${this.envsQuery(envs)}`),
    scale: (id: string, podName: string, replicas: number) => this.request<string>('PUT', `/flows/scale/${id}?pod_name=${encodeURIComponent(podName)}&replicas=${replicas}`),
    rollingUpdate: (id: string, podName: string, usesWith: Record<string, unknown>) =>
      this.request<string>('PUT', `/flows/rolling_update/${id}?pod_name=${encodeURIComponent(podName)}`, { json: usesWith }),
  };

  readonly pods = {
    ...this.objects('pod'),
    create: (workspaceId: string, args: Record<string, unknown>, envs: Record<string, string> = {}) => this.objects('pod').createFrom(workspaceId, args, envs),
    scale: (id: string, replicas: number) => this.request<string>('PUT', `/pods/scale/${id}?replicas=${replicas}`),
    rollingUpdate: (id: string, usesWith: Record<string, unknown>) => this.request<string>('PUT', `/pods/rolling_update/${id}`, { json: usesWith }),
  };

  readonly peas = {
    ...this.objects('pea'),
    create: (workspaceId: string, args: Record<string, unknown>, envs: Record<string, string> = {}) => this.objects('pea').createFrom(workspaceId, args, envs),
  };
}
