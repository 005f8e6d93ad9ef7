/**
 * The partial daemon: the small HTTP API through which the main daemon manages the one object
 * (Flow, Pod or Pea) in a container (reference §2.7). Failures are 400 `{detail, body}` with the
 * real cause: the error, its stack, and the executor process's last output lines.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { type Context, Hono } from 'hono';
import { executorSpec, loadFlow } from './config.ts';
import { Flow } from './flow.ts';
import { gatewayStatus } from './gateway.ts';
import { portOf, serveHead } from './head.ts';
import { releasePrestarted, StartError } from './pea.ts';
import { Pod } from './pod.ts';

export type Mode = 'flow' | 'pod' | 'pea';

export interface PartialItem {
  time_created: string;
  arguments: Record<string, unknown>;
  yaml_source?: string;
}

interface Running {
  item: PartialItem;
  flow?: Flow;
  pod?: Pod;
  head?: http.Server;
}

class PartialError extends Error {
  constructor(message: string, readonly lines: string[] = []) {
    super(message);
  }
}

function failure(c: Context, err: unknown) {
  const e = err as Error;
  const lines = [`${e.name}: ${e.message}`, ...(e.stack ?? '').split('\n').slice(1)];
  if (err instanceof StartError || err instanceof PartialError) lines.push(...err.lines);
  return c.json({ detail: e.message, body: lines }, 400);
}

async function bodyOf(c: Context, key: Mode): Promise<{ args: Record<string, unknown>; envs: Record<string, string> }> {
  let body: Record<string, unknown>;
  try {
    body = (await c.req.json()) as Record<string, unknown>;
  } catch {
    throw new PartialError(`expected a JSON body {"${key}": {...}, "envs": {...}}`);
  }
  const args = (body[key] ?? body) as Record<string, unknown>;
  const envs = (body.envs ?? {}) as Record<string, string>;
  if (!args || typeof args !== 'object' || Array.isArray(args)) throw new PartialError(`'${key}' must be an object of arguments`);
  return { args, envs };
}

/**
 * `stateFile`: where the object's current arguments are kept (in the container's own filesystem,
 * not the shared work directory), so that after a restart (a crash, the engine's restart policy)
 * `boot()` runs the same object again, with its replicas and uses_with as last updated.
 */
export function partialApp(mode: Mode, opts: { workspace: string; onLog?: (line: string) => void; logRequests?: boolean; stateFile?: string }) {
  const app = new Hono();
  let running: Running | undefined;
  let started: { args: Record<string, unknown>; envs: Record<string, string> } | undefined;
  /** A start at boot (`boot()`) under way: GET /<mode> answers once it settled. */
  let booting: Promise<unknown> | undefined;
  /** Why the first start at boot failed (answered by GET /<mode>, as a failed POST would). */
  let bootError: unknown;
  const now = () => new Date().toISOString();

  /** Keep what runs now: the start arguments with the replicas and uses_with of every executor as they are. */
  function save(): void {
    if (!opts.stateFile || !started || !running) return;
    const { args, envs } = started;
    const current = running.flow
      ? { ...args, overrides: Object.fromEntries([...running.flow.pods].map(([n, p]) => [n, { replicas: p.replicaCount, uses_with: p.spec.usesWith }])) }
      : { ...args, replicas: running.pod!.replicaCount, uses_with: running.pod!.spec.usesWith };
    // How its Peas were started: after a restart they start at once, beside the runtime loading (prestart.mjs).
    const pods = running.flow ? [...running.flow.pods.values()] : [running.pod!];
    const peas = pods.flatMap((p) => ('launches' in p ? p.launches : [])); // remote Pods run elsewhere
    writeFileSync(opts.stateFile, JSON.stringify({ args: current, envs, peas }), { mode: 0o600 });
  }

  async function start(args: Record<string, unknown>, envs: Record<string, string>): Promise<Running> {
    Object.assign(process.env, envs);
    const env = { ...process.env, ...envs };
    if (mode === 'flow') {
      const uses = args.uses;
      if (typeof uses !== 'string' || !uses) throw new PartialError('uses yaml file was not specified in flow definition');
      const file = path.resolve(opts.workspace, uses);
      const spec = loadFlow(file, env);
      // After a restart: the replicas and uses_with the object had (scaled, rolling-updated).
      const overrides = (args.overrides ?? {}) as Record<string, { replicas?: number; uses_with?: Record<string, unknown> }>;
      spec.executors = spec.executors.map((e) => (overrides[e.name] ? { ...e, replicas: overrides[e.name]!.replicas ?? e.replicas, usesWith: overrides[e.name]!.uses_with ?? e.usesWith } : e));
      const port = args.port_expose === undefined ? undefined : Number(args.port_expose);
      const flow = await new Flow(spec, { workspace: opts.workspace, port, onLog: opts.onLog, logRequests: opts.logRequests }).start();
      return {
        flow,
        item: {
          time_created: now(),
          arguments: { ...withoutOverrides(args), port_expose: flow.port, protocol: spec.protocol.toUpperCase(), pods: Object.fromEntries([...flow.pods].map(([n, p]) => [n, { replicas: p.replicaCount }])) },
          yaml_source: readFileSync(file, 'utf8'),
        },
      };
    }
    const spec = executorSpec(mode === 'pea' ? { ...args, replicas: 1 } : args, { dir: opts.workspace, where: `${mode} arguments`, env });
    const portIn = spec.portIn ?? 0;
    const pod = new Pod(spec, { workspace: opts.workspace, host: mode === 'pea' ? '0.0.0.0' : '127.0.0.1', onLog: opts.onLog, port: mode === 'pea' ? portIn : undefined });
    await pod.start();
    let head: http.Server | undefined;
    try {
      head = mode === 'pod' ? await serveHead(pod, '0.0.0.0', portIn) : undefined;
    } catch (err) {
      await pod.close();
      throw err;
    }
    const port = head ? portOf(head) : pod.port;
    return { pod, head, item: { time_created: now(), arguments: { ...args, name: spec.name, replicas: pod.replicaCount, port_in: port } } };
  }

  /**
   * Close the object. `keepState`: the container is stopping (idle, an engine restart), and the
   * object runs again, as it was, when it starts; otherwise it is forgotten (DELETE).
   */
  async function stop(keepState = false): Promise<void> {
    await booting?.catch(() => undefined);
    const r = running;
    running = undefined;
    started = undefined;
    if (opts.stateFile && !keepState) rmSync(opts.stateFile, { force: true });
    if (!r) return;
    r.head?.close();
    r.head?.closeAllConnections();
    await r.flow?.close();
    await r.pod?.close();
  }

  const current = (c: Context) => (running ? undefined : c.json({ detail: `no ${mode} is running here` }, 404));

  app.notFound((c) => c.json({ detail: `${c.req.method} ${c.req.path} not found (this partial daemon runs a ${mode})` }, 404));
  app.get('/', (c) => c.json({}));
  app.get('/status', (c) => c.json(gatewayStatus()));
  app.get(`/${mode}`, async (c) => {
    await booting?.catch(() => undefined);
    if (!running && bootError) return failure(c, bootError);
    return current(c) ?? c.json(running!.item);
  });
  app.post(`/${mode}`, async (c) => {
    try {
      await booting?.catch(() => undefined);
      if (running) throw new PartialError(`a ${mode} is already running here; DELETE /${mode} first`);
      const { args, envs } = await bodyOf(c, mode);
      running = await start(args, envs).finally(releasePrestarted); // Peas started early that it did not take stop
      started = { args, envs };
      save();
      return c.json(running.item, 201);
    } catch (err) {
      return failure(c, err);
    }
  });
  app.delete(`/${mode}`, async (c) => {
    await stop();
    return c.json(null);
  });

  if (mode !== 'pea') {
    const usesWith = async (c: Context) => {
      const text = await c.req.text();
      if (!text) return {};
      const body = JSON.parse(text) as Record<string, unknown>;
      return ((body.uses_with ?? body) as Record<string, unknown>) ?? {};
    };
    const update = async (c: Context, fn: (r: Running) => Promise<void>) => {
      const missing = current(c);
      if (missing) return missing;
      try {
        await fn(running!);
        save();
        if (running!.pod) running!.item.arguments.replicas = running!.pod.replicaCount;
        if (running!.flow) running!.item.arguments.pods = Object.fromEntries([...running!.flow.pods].map(([n, p]) => [n, { replicas: p.replicaCount }]));
        return c.json(running!.item);
      } catch (err) {
        return failure(c, err);
      }
    };
    const replicasOf = (c: Context) => {
      const n = Number(c.req.query('replicas'));
      if (!Number.isInteger(n) || n < 1) throw new PartialError(`replicas must be a positive integer, got '${c.req.query('replicas')}'`);
      return n;
    };
    const podName = (c: Context) => {
      const name = c.req.query('pod_name');
      if (!name) throw new PartialError('pod_name is required');
      return name;
    };
    app.put(`/${mode}/rolling_update`, (c) => update(c, async (r) => (r.flow ? r.flow.rollingUpdate(podName(c), await usesWith(c)) : r.pod!.rollingUpdate(await usesWith(c)))));
    app.put(`/${mode}/scale`, (c) => update(c, async (r) => (r.flow ? r.flow.scale(podName(c), replicasOf(c)) : r.pod!.scale(replicasOf(c)))));
  }

  /** The object kept in the state file, if there is one (this container ran it before it restarted). */
  function saved(): { args: Record<string, unknown>; envs: Record<string, string> } | undefined {
    if (!opts.stateFile) return undefined;
    try {
      return JSON.parse(readFileSync(opts.stateFile, 'utf8'));
    } catch {
      return undefined; // never started here
    }
  }

  /**
   * Start the object as the container starts, without waiting to be asked: the one in the state
   * file (a restart, a wake: `resumed`, and a failure rejects), else `first` (the daemon's create
   * arguments, given in the container's environment: a failure is kept and answered by GET).
   * Meanwhile the HTTP API answers, and GET /<mode> waits for the outcome.
   */
  function boot(first?: { args: Record<string, unknown>; envs: Record<string, string> }): Promise<'resumed' | 'started' | undefined> {
    const previous = saved();
    const run = previous ?? first;
    if (!run) return Promise.resolve(undefined);
    const going = start(run.args, run.envs).then(
      (r) => {
        running = r;
        started = run;
        save();
        return previous ? ('resumed' as const) : ('started' as const);
      },
      (err) => {
        if (previous) throw err;
        bootError = err;
        return undefined;
      },
    );
    booting = going;
    return going;
  }

  return { app, stop, boot };
}

function withoutOverrides(args: Record<string, unknown>): Record<string, unknown> {
  const { overrides: _, ...rest } = args;
  return rest;
}
