/**
 * Flows, Pods and Peas as containers. Each object is one container of its workspace's image on
 * the workspace's network, running the runtime's partial daemon, which starts the object.
 * Before starting, the daemon knows every port that must be reached from outside (the
 * partial daemon's, the gateway's or port_in) and publishes exactly those; a port the YAML or
 * the arguments do not fix is chosen by Docker. Creation waits until the partial daemon has
 * started the object; on failure the container is removed and the store is unchanged.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { LABEL } from '../../src/docker/labels.ts';
import type { ContainerState } from '../../src/docker/runtime.ts';
import { badRequest, DaemonError, notFound } from '../../src/http/errors.ts';
import { newId } from '../../src/ids.ts';
import type { PluginApi } from '../../src/plugins.ts';
import { ConfigError, executorSpec, loadFlow } from '../../src/runtime/config.ts';
import type { ObjectRepo } from './repo.ts';
import type { ObjectKind, ObjectRow } from './schema.ts';
import type { ContainerItem } from './wire.ts';

/** Ports inside every object container (each has its own network namespace, so they never clash). */
export const PARTIAL_PORT = 8000;
const GATEWAY_PORT = 8080;
const PORT_IN = 8081;
const PARTIAL_TIMEOUT_MS = 10_000;

const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 10);
const entrypoint = (kind: ObjectKind) => ['node', '/opt/jinad/runtime/bin.mjs', 'partial', '--mode', kind, '--port', String(PARTIAL_PORT), '--workspace', '/workspace'];

/** What the partial daemon answers on failure: `{detail, body: [lines]}`. */
async function partialCall(uri: string, method: string, pathAndQuery: string, body?: unknown, timeoutMs = PARTIAL_TIMEOUT_MS) {
  const res = await fetch(`${uri}${pathAndQuery}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, json };
}

function partialError(json: unknown): { detail: string; lines: string[] } {
  const j = json as { detail?: unknown; body?: unknown };
  const detail = typeof j?.detail === 'string' ? j.detail : typeof json === 'string' ? json : JSON.stringify(json);
  const lines = Array.isArray(j?.body) ? (j.body as string[]) : [];
  return { detail, lines };
}

export function createObjectService(api: PluginApi, kind: ObjectKind, repo: ObjectRepo) {
  const { docker, config, store, log } = api;
  const workspaces = api.use('workspaces');
  const reachHost = config.reachHost ?? (config.publishHost === '0.0.0.0' ? '127.0.0.1' : config.publishHost);
  const labels = (id: string, workspaceId: string) => api.labels({ [LABEL.kind]: kind, [LABEL.workspace]: workspaceId, [LABEL.object]: id });

  /** Live view of a stored object: the container's state and ports now, not a copy. */
  async function toItem(r: ObjectRow): Promise<ContainerItem> {
    const live = await docker.inspectContainer(r.id);
    return {
      time_created: r.timeCreated,
      time_updated: r.timeUpdated,
      workspace_id: r.workspaceId,
      metadata: { ...r.metadata, ports: live?.ports ?? r.metadata.ports, status: live?.status ?? 'missing', exit_code: live ? live.exitCode : null },
      arguments: r.arguments,
    };
  }

  function mustRow(id: string): ObjectRow {
    const r = repo.get(id);
    if (!r) throw notFound(`${id} not found in ${kind} store`);
    return r;
  }

  /** Wait until the partial daemon answers; fail at once if the container stops. */
  async function waitReady(id: string, uri: string, signalTimeout: number): Promise<void> {
    const deadline = Date.now() + signalTimeout;
    for (;;) {
      try {
        const res = await fetch(`${uri}/`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      const state = await docker.inspectContainer(id);
      if (!state?.running) throw badRequest(`the ${kind} container stopped before it was ready (exit code ${state?.exitCode ?? 'unknown'})`);
      if (Date.now() > deadline) throw badRequest(`the ${kind} container did not answer within ${signalTimeout / 1000} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  interface CreateInput {
    workspaceId: string;
    envs: Record<string, string>;
    /** Flows: the YAML in the workspace. */
    filename?: string;
    /** Pods and Peas: their arguments. */
    args?: Record<string, unknown>;
  }

  async function create(input: CreateInput): Promise<string> {
    const ws = await workspaces.requireActive(input.workspaceId);
    const workdir = workspaces.workdir(input.workspaceId);
    const id = newId(kind);
    const ports: { container: number; host?: number }[] = [{ container: PARTIAL_PORT }];
    let partialBody: Record<string, unknown>;

    // Load the object's definition first: it says which ports must be published, and a bad one
    // fails here with the runtime's message, before any container exists.
    try {
      if (kind === 'flow') {
        const rel = input.filename!;
        const file = path.resolve(workdir, rel);
        if (!file.startsWith(`${workdir}${path.sep}`)) throw badRequest(`filename '${rel}' must be a path inside the workspace`);
        if (!existsSync(file)) throw notFound(`File \`${rel}\` not found in workspace \`${input.workspaceId}\``);
        const spec = loadFlow(file, { ...input.envs });
        const gateway = spec.portExpose ?? GATEWAY_PORT;
        ports.push({ container: gateway, host: spec.portExpose });
        partialBody = { flow: { uses: rel, port_expose: gateway }, envs: input.envs };
      } else {
        const args = { ...input.args };
        executorSpec(args, { dir: workdir, where: `${kind} arguments`, env: { ...process.env, ...input.envs } });
        const fixed = typeof args.port_in === 'number' ? args.port_in : undefined;
        args.port_in = fixed ?? PORT_IN;
        ports.push({ container: args.port_in as number, host: fixed });
        partialBody = { [kind]: args, envs: input.envs };
      }
    } catch (err) {
      if (err instanceof ConfigError) throw badRequest(err.message, [err.message], err);
      throw err;
    }

    let container: ContainerState;
    try {
      container = await docker.runContainer({
        name: id,
        image: ws.metadata.image_name!,
        network: input.workspaceId,
        entrypoint: entrypoint(kind),
        env: {
          HOME: '/workspace',
          JINA_LOG_WORKSPACE: '/workspace/logs',
          JINA_HUB_ROOT: '/workspace/.jina/hub-packages',
          JINA_HUB_CACHE_DIR: '/workspace/.cache/jina',
          JINA_LOG_LEVEL: process.env.JINA_LOG_LEVEL ?? 'INFO',
          JINAD_WORKSPACE_ID: input.workspaceId,
          JINAD_OBJECT_ID: id,
          ...input.envs,
        },
        binds: [`${workspaces.hostWorkdir(input.workspaceId)}:/workspace`],
        workdir: '/workspace',
        ports,
        publishHost: config.publishHost,
        labels: labels(id, input.workspaceId),
      });
    } catch (err) {
      await docker.removeContainer(id);
      const msg = (err as Error).message;
      const clash = /port is already allocated/.test(msg) ? ` (port conflict: ${/[0-9]+(?:\.[0-9]+){3}:[0-9]+/.exec(msg)?.[0] ?? 'a published port is taken'})` : '';
      throw badRequest(`the ${kind} container could not start${clash}`, [msg], err);
    }

    const uri = `http://${reachHost}:${container.ports[`${PARTIAL_PORT}/tcp`]}`;
    let object: Record<string, unknown>;
    try {
      await waitReady(id, uri, config.readyTimeoutMs);
      const res = await partialCall(uri, 'POST', `/${kind}`, partialBody, config.readyTimeoutMs);
      if (res.status !== 201) {
        const { detail, lines } = partialError(res.json);
        throw badRequest(detail, lines);
      }
      object = res.json as Record<string, unknown>;
    } catch (err) {
      const logs = await docker.containerLogs(id, 40).catch(() => []);
      await docker.removeContainer(id);
      const e = err instanceof DaemonError ? err : badRequest(`the ${kind} did not start: ${(err as Error).message}`);
      const lines = Array.isArray(e.body) ? (e.body as string[]) : [];
      throw badRequest(e.message, [...lines, `--- last lines of container ${id} ---`, ...logs], err);
    }

    await repo.insert({
      id,
      kind,
      workspaceId: input.workspaceId,
      metadata: { container_id: short(container.id), container_name: id, image_id: ws.metadata.image_id ?? '', network: ws.metadata.network ?? '', ports: container.ports, uri },
      arguments: { object, entrypoint: entrypoint(kind).join(' '), envs: input.envs, ...(kind === 'flow' ? { filename: input.filename } : { args: input.args }) },
    });
    await store.count(kind, { add: 1 });
    log.info(`${kind} ${id} started in workspace ${input.workspaceId}`);
    return id;
  }

  /** Apply an update through the partial daemon and keep its answer. */
  async function update(id: string, method: string, pathAndQuery: string, body?: unknown): Promise<string> {
    const r = mustRow(id);
    let res: Awaited<ReturnType<typeof partialCall>>;
    try {
      res = await partialCall(r.metadata.uri, method, pathAndQuery, body, config.readyTimeoutMs);
    } catch (err) {
      throw badRequest(`${id} is unreachable: ${(err as Error).message}`, [], err);
    }
    if (res.status !== 200) {
      const { detail, lines } = partialError(res.json);
      throw badRequest(detail, lines);
    }
    await repo.patch(id, { arguments: { ...r.arguments, object: res.json as Record<string, unknown> } });
    return id;
  }

  async function remove(id: string): Promise<void> {
    const r = mustRow(id);
    // Let the object close its executors; the container goes either way.
    await partialCall(r.metadata.uri, 'DELETE', `/${kind}`, undefined, 5000).catch(() => undefined);
    await docker.removeContainer(id);
    await repo.remove(id);
    await store.count(kind, { del: 1 });
    log.info(`${kind} ${id} deleted`);
  }

  /** After a restart: forget objects whose container is gone, remove containers nobody knows. */
  async function reconcile(): Promise<void> {
    for (const r of repo.all()) {
      const live = await docker.inspectContainer(r.id);
      if (!live) {
        log.warn(`${kind} ${r.id}: its container is gone; removing it from the store`);
        await repo.remove(r.id);
        await store.count(kind, { del: 1 });
      }
    }
    const mine = await docker.listLabelled(api.labels({ [LABEL.kind]: kind }));
    for (const c of mine.containers) {
      if (!repo.get(c.name)) {
        log.info(`removing container ${c.name}: no ${kind} in the store`);
        await docker.removeContainer(c.id);
      }
    }
  }

  workspaces.onDelete(async (workspaceId) => {
    for (const r of repo.inWorkspace(workspaceId)) await remove(r.id);
  });
  workspaces.listManaged((workspaceId) => repo.inWorkspace(workspaceId).map((r) => r.id));

  return {
    create,
    remove,
    reconcile,
    async get(id: string) {
      return toItem(mustRow(id));
    },
    async list() {
      const items = Object.fromEntries(await Promise.all(repo.all().map(async (r) => [r.id, await toItem(r)] as const)));
      return { ...(await store.counters(kind)), items };
    },
    async clear() {
      for (const r of repo.all()) await remove(r.id);
    },
    scale: (id: string, replicas: number, podName?: string) =>
      update(id, 'PUT', `/${kind}/scale?replicas=${replicas}${podName ? `&pod_name=${encodeURIComponent(podName)}` : ''}`),
    rollingUpdate: (id: string, usesWith: Record<string, unknown>, podName?: string) =>
      update(id, 'PUT', `/${kind}/rolling_update${podName ? `?pod_name=${encodeURIComponent(podName)}` : ''}`, usesWith),
    async status() {
      return { ...(await store.counters(kind)), size: repo.all().length };
    },
  };
}
export type ObjectService = ReturnType<typeof createObjectService>;
