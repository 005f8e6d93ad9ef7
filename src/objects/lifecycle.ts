/**
 * The object lifecycle, written once for every kind: create → run → wait for readiness →
 * partial-daemon call → record; update; remove; reconcile. Before anything runs, the kind's
 * `prepare` loads its definition (a Flow YAML, a Pod's arguments): that says which ports must
 * be published, and a bad definition fails here with the runtime's message, before any object
 * exists. On a failed start the object is removed and the store is unchanged; the error carries
 * the cause and the object's last output lines.
 */
import type { Backend, ObjectState } from '../backend/types.ts';
import { endpointOf } from '../backend/types.ts';
import type { ObjectItem } from '../contract/objects.ts';
import { newId } from '../contract/ids.ts';
import { redactEnvs } from '../contract/kv.ts';
import { mergeResources, type Resources } from '../contract/resources.ts';
import { DEFAULT_RESTART, parseRestart } from '../contract/restart.ts';
import { DaemonError, fail } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics/index.ts';
import type { WorkspaceService } from '../plugin/define.ts';
import { DefinitionError } from '../runtime/config.ts';
import type { Store } from '../store/db.ts';
import type { CreateInput, Idler, ObjectKindSpec, PreparedObject, StartHooks } from './kind.ts';
import { PARTIAL_PORT, partialCall, partialError, waitReady } from './partial.ts';
import type { ReplicaLedger, StartSlots } from './ledger.ts';
import type { LiveStates } from './live.ts';
import type { ObjectRepo } from './repo.ts';
import type { ObjectRow, StartSpec } from './schema.ts';

export interface ObjectDeps {
  spec: ObjectKindSpec;
  backend: Backend;
  store: Store;
  repo: ObjectRepo;
  workspaces: WorkspaceService;
  readyTimeoutMs: number;
  health: { intervalMs: number; unhealthyAfterMs: number };
  jinaLogLevel: string;
  limits: { replicas: number; workspaceReplicas: number; daemonReplicas: number };
  /** The daemon's default container limits. */
  containerLimits: Resources;
  replicaCounts: ReplicaLedger;
  starts: StartSlots;
  live: LiveStates;
  log: Logger;
  /** Removals under way: a second DELETE of the same object waits for the first. */
  removing: Map<string, Promise<void>>;
  /** Objects starting, not yet recorded (id → workspace): their first log lines are theirs already. */
  starting: Map<string, string>;
  /** Objects the daemon itself is restarting or recreating now (their stops are not failures). */
  restarting: Set<string>;
  measure: ObjectMetrics;
  /** Scale to zero: the daemon's default idle timeout (seconds, 0: off), spares kept per kind of object (spares.ts), and the fronts of idle-enabled objects. */
  idleTimeout: number;
  idleSpares: number;
  /** The policies over the lifecycle (define.ts composes them): scale to zero, and warm spares and spread replicas. */
  idler: Idler;
  hooks: StartHooks;
}

/** What the lifecycle counts (`jinad_object_*`). */
export function objectMetrics(m: Metrics) {
  return {
    starts: m.counter('jinad_object_starts_total', 'Objects created, by kind and outcome (ok, failed)', ['kind', 'outcome']),
    startSeconds: m.histogram('jinad_object_start_duration_seconds', 'Time from a create request to the object running (POST to ready)', ['kind']),
    restarts: m.counter('jinad_object_restarts_total', 'Times an object was started again after it stopped, by kind', ['kind']),
  };
}
export type ObjectMetrics = ReturnType<typeof objectMetrics>;


export const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 10);
/** The environment variable an object's partial daemon starts its object from. */
export const startEnv = (d: Pick<ObjectDeps, 'spec'>, body: Record<string, unknown>) => JSON.stringify({ args: body[modeOf(d.spec)] ?? body, envs: body.envs ?? {} });

/** The image id of a workspace as it is now (undefined while it is not ACTIVE: no spare then). */
export function imageNow(d: ObjectDeps, workspaceId: string): string | undefined {
  try {
    return d.workspaces.requireActive(workspaceId).imageId;
  } catch {
    return undefined;
  }
}
export const modeOf = (spec: ObjectKindSpec) => spec.mode ?? spec.kind;
/** Inside the container's own filesystem (kept across its restarts, never in the shared work directory). */
export const STATE_FILE = '/tmp/jinad-partial.json';
export const commandOf = (spec: ObjectKindSpec) => ['node', '/opt/jinad/runtime/bin.mjs', 'partial', '--mode', modeOf(spec), '--port', String(PARTIAL_PORT), '--workspace', '/workspace', '--state', STATE_FILE];

/** The restart policy of a create request: query, then a Pod's body, then the default. */
const restartOf = (input: CreateInput) => ((input.query.restart ?? input.body?.restart ?? DEFAULT_RESTART) as string);
/** Where it may run (Swarm): the create arguments (query, then a Pod's body), then its workspace's `.jinad`. */
const constraintsOf = (input: CreateInput, workspace: string[]) => ((input.query.constraints ?? input.body?.constraints ?? workspace) as string[]);
/** The idle timeout of a create request (seconds; 0: never idle): query, then a Pod's body, then the definition (a Flow's `with:`), then the daemon's default. */
function idleTimeoutOf(d: ObjectDeps, input: CreateInput, prepared: PreparedObject): number {
  const asked = (input.query.idle_timeout ?? input.body?.idle_timeout ?? prepared.idleTimeout) as number | undefined;
  if (prepared.notIdle && asked) throw fail('invalid_definition', `idle_timeout cannot apply: ${prepared.notIdle}`);
  return prepared.notIdle ? 0 : (asked ?? d.idleTimeout); // the daemon's default skips what cannot idle
}

/** A stored object's restart policy as written (`on-failure:3`); rows from before policies were kept: the default. */
export const restartTextOf = (r: ObjectRow): string => r.start?.restart ?? (r.arguments.restart as string | undefined) ?? DEFAULT_RESTART;

/** Where the object's partial daemon answers now: its ports as last seen live (a restart may change them), else as recorded. */
export function uriOf(d: Pick<ObjectDeps, 'live'>, r: ObjectRow): string {
  const live = d.live.get(r.id);
  return (live?.running && endpointOf(live, PARTIAL_PORT)) || r.metadata.uri;
}

/** The environment every object of a workspace has. */
export const fixedEnv = (d: Pick<ObjectDeps, 'jinaLogLevel'>, workspaceId: string): Record<string, string> => ({
  HOME: '/workspace',
  JINA_LOG_WORKSPACE: '/workspace/logs',
  JINA_HUB_ROOT: '/workspace/.jina/hub-packages',
  JINA_HUB_CACHE_DIR: '/workspace/.cache/jina',
  JINA_LOG_LEVEL: d.jinaLogLevel,
  JINAD_WORKSPACE_ID: workspaceId,
});

/** The environment inside an object: JinaD's fixed variables, then the request's envs. */
const objectEnv = (d: Pick<ObjectDeps, 'jinaLogLevel'>, workspaceId: string, id: string, envs: Record<string, string>): Record<string, string> => ({
  ...fixedEnv(d, workspaceId),
  JINAD_OBJECT_ID: id,
  ...envs,
});

/** Live view of a stored object: its state and ports as the backend's events keep them, not a stored copy. */
export async function objectItem(d: ObjectDeps, r: ObjectRow): Promise<ObjectItem> {
  const live = d.live.get(r.id) ?? (d.live.synced ? undefined : await d.backend.inspectObject(r.id));
  const phase = d.idler.phase(r.id);
  const idle = r.metadata.idle;
  return {
    time_created: r.timeCreated,
    time_updated: r.timeUpdated,
    workspace_id: r.workspaceId,
    metadata: {
      ...r.metadata,
      uri: live ? uriOf(d, r) : r.metadata.uri,
      // An idle-enabled object's ports are the daemon's fronts (its container's own are inside the daemon's reach only).
      ports: { ...(live?.ports ?? r.metadata.ports), ...idle?.ports },
      status: phase && phase !== 'running' ? phase : (live?.status ?? 'missing'),
      exit_code: live ? live.exitCode : null,
      oom_killed: live?.oomKilled ?? false,
      restart: restartTextOf(r),
      restarts: r.metadata.restarts ?? 0,
      last_exit: r.metadata.last_exit ?? null,
      idle_timeout: idle?.timeout ?? null,
      wakes: idle?.wakes ?? 0,
      last_wake: idle?.last_wake ?? null,
      ...(live?.tasks && { tasks: live.tasks }),
    },
    // Envs are shown as given, but for secrets (a remote Executor's JINAD_TOKEN, passwords).
    arguments: redactEnvs(r.arguments) as ObjectItem['arguments'],
  };
}

/** Replicas an object runs, all executors together (1 for rows from before they were counted). */
export function replicasOf(r: ObjectRow): number {
  const counts = r.arguments.replicas as Record<string, number> | undefined;
  return counts ? Object.values(counts).reduce((a, b) => a + b, 0) : 1;
}

/** The replica limits, for an object that would run `counts` instead of its `before` replicas. */
function checkReplicas(d: ObjectDeps, workspaceId: string, counts: Record<string, number>, before = 0): void {
  const { replicas, workspaceReplicas, daemonReplicas } = d.limits;
  for (const [name, n] of Object.entries(counts)) {
    if (n > replicas) throw fail('limit_exceeded', `${name}: ${n} replicas; at most ${replicas} per executor (limits.replicas)`);
  }
  const added = Object.values(counts).reduce((a, b) => a + b, 0) - before;
  const inWorkspace = d.replicaCounts.total(workspaceId) + added;
  if (inWorkspace > workspaceReplicas) throw fail('limit_exceeded', `${workspaceId} would run ${inWorkspace} replicas; at most ${workspaceReplicas} per workspace (limits.workspaceReplicas)`);
  const inDaemon = d.replicaCounts.total() + added;
  if (inDaemon > daemonReplicas) throw fail('limit_exceeded', `this daemon would run ${inDaemon} replicas; at most ${daemonReplicas} in all (limits.daemonReplicas)`);
}

export function mustRow(d: ObjectDeps, id: string): ObjectRow {
  const r = d.repo.get(id);
  if (!r) throw fail('object_not_found', `${id} not found in ${d.spec.kind} store`);
  return r;
}

/**
 * Wait until the object's partial daemon answers, then start the object in it; its answer. A
 * container that ran the object before (restarted) runs it again by itself: that is kept.
 */
export async function startInside(d: ObjectDeps, id: string, uri: string, partialBody: Record<string, unknown>): Promise<Record<string, unknown>> {
  await waitReady(d.backend, id, d.spec.kind, uri, d.readyTimeoutMs);
  // It starts its object by itself as its container starts (resumed, or from JINAD_PARTIAL_START): this answers once it did.
  const booted = await partialCall(uri, 'GET', `/${modeOf(d.spec)}`, undefined, d.readyTimeoutMs);
  if (booted.status === 200) return booted.json as Record<string, unknown>;
  if (booted.status === 400) {
    const { detail, lines } = partialError(booted.json);
    throw fail('object_start_failed', detail, lines);
  }
  const res = await partialCall(uri, 'POST', `/${modeOf(d.spec)}`, partialBody, d.readyTimeoutMs);
  if (res.status !== 201) {
    const { detail, lines } = partialError(res.json);
    throw fail('object_start_failed', detail, lines);
  }
  return res.json as Record<string, unknown>;
}

/** The object's limits: its create arguments (query, then body), its workspace's `.jinad`, the daemon's defaults. */
function resourcesFor(d: ObjectDeps, input: CreateInput, workspace: Resources): Resources {
  return mergeResources(input.query as Partial<Resources>, input.body as Partial<Resources> | undefined, workspace, d.containerLimits);
}

/** Run the object, wait for its partial daemon and start the object in it; returns the partial daemon's item. On failure nothing is left. */
export async function start(d: ObjectDeps, id: string, workspaceId: string, startSpec: StartSpec, image: string) {
  const { kind } = d.spec;
  // A Pod spread over machines: copies of one replica each (spread.ts).
  const spread = d.hooks.placement(startSpec.partialBody);
  const partialBody = spread?.body ?? startSpec.partialBody;
  const imageId = imageNow(d, workspaceId);
  const spared = await d.hooks.startWarm(id, workspaceId, startSpec, imageId, partialBody);
  if (spared) return spared;
  let state: ObjectState;
  try {
    state = await d.backend.runObject({
      id,
      kind,
      workspaceId,
      image,
      command: commandOf(d.spec),
      // The partial daemon starts the object as soon as it runs, without waiting to be asked.
      env: { ...startSpec.env, JINAD_PARTIAL_START: startEnv(d, partialBody) },
      ports: [{ container: PARTIAL_PORT }, ...startSpec.ports],
      workdir: d.workspaces.workdir(workspaceId),
      resources: startSpec.resources ?? d.containerLimits,
      restart: parseRestart(startSpec.restart),
      ...(startSpec.constraints?.length && { constraints: startSpec.constraints }),
      ...(spread && { replicas: spread.copies }),
    });
  } catch (err) {
    await d.backend.removeObject(id);
    if (err instanceof DaemonError) throw err;
    const msg = (err as Error).message;
    const clash = /port is already allocated/.test(msg) ? ` (port conflict: ${/[0-9]+(?:\.[0-9]+){3}:[0-9]+/.exec(msg)?.[0] ?? 'a published port is taken'})` : '';
    throw fail('object_start_failed', `the ${kind} could not start${clash}`, [msg], err);
  }
  const uri = endpointOf(state, PARTIAL_PORT) ?? '';
  try {
    const object = await startInside(d, id, uri, partialBody);
    d.hooks.afterStart(id, workspaceId, startSpec, imageId);
    return { state, uri, object };
  } catch (err) {
    const failure = await withOutput(d, id, err);
    await d.backend.removeObject(id);
    throw failure;
  }
}

/** A start that failed, as the error to answer: its cause and lines, then the object's last output lines. */
export async function withOutput(d: ObjectDeps, id: string, err: unknown): Promise<DaemonError> {
  const output = await d.backend.objectOutput(id, 40).catch(() => []);
  const e = err instanceof DaemonError ? err : fail('object_start_failed', `the ${d.spec.kind} did not start: ${(err as Error).message}`);
  const lines = Array.isArray(e.body) ? (e.body as string[]) : [];
  return fail('object_start_failed', e.message, [...lines, `--- last lines of container ${id} ---`, ...output], err);
}

export async function createObject(d: ObjectDeps, input: CreateInput): Promise<string> {
  const { kind } = d.spec;
  const ws = d.workspaces.requireActive(input.workspaceId);
  const id = newId(kind);
  const env = objectEnv(d, input.workspaceId, id, input.envs);
  let prepared: ReturnType<ObjectKindSpec['prepare']>;
  try {
    // Validated with the environment the object will have: the request's envs, never the daemon's.
    prepared = d.spec.prepare(input, { workdir: d.workspaces.workdir(input.workspaceId), env, python: ws.python });
  } catch (err) {
    if (err instanceof DefinitionError) throw fail('invalid_definition', err.message, [err.message], err);
    throw err;
  }
  checkReplicas(d, input.workspaceId, prepared.replicas);
  // Known as starting until recorded: the log receiver takes its first lines as the object's.
  d.starting.set(id, input.workspaceId);
  const t0 = performance.now();
  try {
    await startAndRecord(d, id, input, prepared, env, ws);
    d.measure.starts.inc({ kind, outcome: 'ok' });
    d.measure.startSeconds.observe({ kind }, (performance.now() - t0) / 1000);
  } catch (err) {
    d.measure.starts.inc({ kind, outcome: 'failed' });
    throw err;
  } finally {
    d.starting.delete(id);
  }
  await d.store.count(kind, { add: 1 });
  d.log.info(`${kind} ${id} started in workspace ${input.workspaceId}`);
  return id;
}

async function startAndRecord(d: ObjectDeps, id: string, input: CreateInput, prepared: PreparedObject, env: Record<string, string>, ws: ReturnType<WorkspaceService['requireActive']>): Promise<void> {
  const { kind } = d.spec;
  const idleTimeout = idleTimeoutOf(d, input, prepared);
  // Idle-enabled: the daemon holds the published ports (fixed ones too), the container publishes its own where the backend picks.
  const front = idleTimeout > 0 ? await d.idler.front(id, idleTimeout, prepared.ports) : undefined;
  const ports = front ? prepared.ports.map((p) => ({ container: p.container })) : prepared.ports;
  const constraints = constraintsOf(input, ws.constraints);
  // The readiness timeout runs once this start has its slot, not while it waits for one.
  const startSpec: StartSpec = { partialBody: prepared.partialBody, ports, env, resources: resourcesFor(d, input, ws.resources), restart: restartOf(input), ...(constraints.length && { constraints }), ...(front && { idleTimeout }), ...(prepared.scrape === false && { scrape: false as const }) };
  try {
    const { state, uri, object } = await d.starts.run(() => start(d, id, input.workspaceId, startSpec, ws.image));
    d.live.set(state);
    try {
      d.workspaces.requireActive(input.workspaceId); // deleted (or rebuilding) while this object started?
    } catch (err) {
      await d.backend.removeObject(id);
      throw err;
    }
    await d.repo.insert({
      id,
      kind,
      workspaceId: input.workspaceId,
      metadata: {
        container_id: short(state.ref),
        container_name: id,
        image_id: ws.imageId,
        network: ws.network,
        ports: state.ports,
        uri,
        started_at: state.startedAt,
        ...(front && { idle: { timeout: idleTimeout, ports: front.ports, wakes: 0, last_wake: null } }),
      },
      arguments: { object, entrypoint: commandOf(d.spec).join(' '), envs: input.envs, ...prepared.record, replicas: prepared.replicas, restart: startSpec.restart, ...(front && { idle_timeout: idleTimeout }) },
      start: startSpec,
    });
  } catch (err) {
    await front?.settle(false);
    throw err;
  }
  await front?.settle(true);
}

/** Apply an update through the partial daemon and keep its answer. */
export function updateObject(d: ObjectDeps, id: string, method: string, pathAndQuery: string, body?: unknown): Promise<string> {
  mustRow(d, id);
  // An idle object is woken for it (and the update counts as a request).
  return d.idler.whileAwake(id, () => updateNow(d, id, method, pathAndQuery, body));
}

async function updateNow(d: ObjectDeps, id: string, method: string, pathAndQuery: string, body?: unknown): Promise<string> {
  const r = mustRow(d, id);
  let res: Awaited<ReturnType<typeof partialCall>>;
  try {
    res = await partialCall(uriOf(d, r), method, `/${modeOf(d.spec)}${pathAndQuery}`, body, d.readyTimeoutMs);
  } catch (err) {
    throw fail('object_unreachable', `${id} is unreachable: ${(err as Error).message}`, [], err);
  }
  if (res.status !== 200) {
    const { detail, lines } = partialError(res.json);
    throw fail('object_update_failed', detail, lines);
  }
  await d.repo.patch(id, { arguments: { ...r.arguments, object: res.json as Record<string, unknown> } });
  return id;
}

/** A partial daemon's update query: the given parameters, and `pod_name` when one is named. */
const podQuery = (params: Record<string, string>, podName?: string) => new URLSearchParams({ ...params, ...(podName ? { pod_name: podName } : {}) }).toString();

/** Replace an object's replicas one by one with new `uses_with` (of one executor, when named). */
export async function rollingUpdateObject(d: ObjectDeps, id: string, usesWith: Record<string, unknown>, podName?: string): Promise<string> {
  if (d.hooks.rollingUpdate) {
    const object = await d.hooks.rollingUpdate(id, usesWith);
    const r = mustRow(d, id);
    if (object) await d.repo.patch(id, { arguments: { ...r.arguments, object } });
    return id;
  }
  const query = podQuery({}, podName);
  return updateObject(d, id, 'PUT', `/rolling_update${query ? `?${query}` : ''}`, usesWith);
}

/** Scale one executor of an object (a Flow names it; a Pod has one), within the replica limits. */
export async function scaleObject(d: ObjectDeps, id: string, replicas: number, podName?: string): Promise<string> {
  const r = mustRow(d, id);
  const counts = { ...((r.arguments.replicas as Record<string, number> | undefined) ?? {}) };
  const name = podName && podName in counts ? podName : (Object.keys(counts)[0] ?? podName ?? d.spec.kind);
  checkReplicas(d, r.workspaceId, { ...counts, [name]: replicas }, replicasOf(r));
  if (d.hooks.scale) await d.hooks.scale(id, replicas);
  else await updateObject(d, id, 'PUT', `/scale?${podQuery({ replicas: String(replicas) }, podName)}`);
  const after = mustRow(d, id);
  await d.repo.patch(id, { arguments: { ...after.arguments, replicas: { ...counts, [name]: replicas } } });
  return id;
}

/** Stop and forget an object; concurrent calls for one object share one removal. */
export function removeObject(d: ObjectDeps, id: string): Promise<void> {
  let running = d.removing.get(id);
  if (!running) {
    const r = mustRow(d, id);
    running = removeNow(d, r).finally(() => d.removing.delete(id));
    d.removing.set(id, running);
  }
  return running;
}

async function removeNow(d: ObjectDeps, r: ObjectRow): Promise<void> {
  const { id } = r;
  await d.idler.release(id); // its ports stop answering first: no request wakes what is being removed
  // Let the object close its executors; it goes either way.
  await partialCall(uriOf(d, r), 'DELETE', `/${modeOf(d.spec)}`, undefined, 5000).catch(() => undefined);
  await d.backend.removeObject(id);
  await d.repo.remove(id);
  await d.store.count(d.spec.kind, { del: 1 });
  d.log.info(`${d.spec.kind} ${id} deleted`);
}

/**
 * After a restart: forget objects that are gone (but `always` ones, which the keeper makes
 * again), remove objects of this kind nobody knows. Reads the live states (synced from one
 * listing at start), so hundreds of objects cost no extra call.
 */
export async function reconcileObjects(d: ObjectDeps): Promise<void> {
  const states = d.live.synced ? d.live.all() : await d.backend.objectStates();
  const present = new Set(states.map((o) => o.id));
  for (const r of d.repo.all()) {
    // An object asleep without a container (spares.ts: putAway) is where it should be.
    if (!present.has(r.id) && !r.start?.resume && parseRestart(restartTextOf(r)).name !== 'always') {
      d.log.warn(`${d.spec.kind} ${r.id} is gone; removing it from the store`);
      await d.repo.remove(r.id);
      await d.store.count(d.spec.kind, { del: 1 });
    }
  }
  for (const o of states) {
    if (o.kind === d.spec.kind && !d.repo.get(o.id)) {
      d.log.info(`removing ${o.id}: no ${d.spec.kind} in the store`);
      await d.backend.removeObject(o.id);
    }
  }
}
