/**
 * `defineObjectKind(spec)`: a plugin for one kind of object. The lifecycle (lifecycle.ts), the
 * routes (routes.ts), the store rows, reconcile, status, the workspace's `managed_objects` and
 * removal with the workspace are the same for every kind; a kind declares only what differs:
 * its name, what its create request takes, which updates it allows, and how a request becomes
 * the ports to publish and the partial daemon's body.
 */
import { endpointOf } from '../backend/types.ts';
import { definePlugin, type PluginDefinition } from '../plugin/define.ts';
import { createIdler, idleMetrics } from './idle.ts';
import { keepRunning, recreateMissing, reviveObjects } from './keeper.ts';
import { type ObjectDeps, createObject, objectMetrics, mustRow, objectItem, reconcileObjects, removeObject, replicasOf, rollingUpdateObject, scaleObject } from './lifecycle.ts';
import { PARTIAL_PORT } from './partial.ts';
import { openObjectRepo } from './repo.ts';
import type { Idler, ObjectKindSpec, ObjectService, StartHooks } from './kind.ts';
import { objectRoutes } from './routes.ts';
import { startInSpare, wantSpares } from './spares.ts';
import { rollingUpdateSpread, scaleSpread, spreadOf, spreads } from './spread.ts';

export type { CreateInput, ObjectKindSpec, ObjectService, PreparedObject } from './kind.ts';

/** Warm spares and spread replicas, as the lifecycle asks for them. */
function startHooks(d: ObjectDeps): StartHooks {
  return {
    startWarm: (id, workspaceId, startSpec, imageId, body) => startInSpare(d, id, workspaceId, startSpec, imageId, body),
    afterStart: (id, workspaceId, startSpec, imageId) => wantSpares(d, id, workspaceId, startSpec, imageId),
    placement: (body) => spreadOf(d, body),
    ...(spreads(d) && { scale: (id, replicas) => scaleSpread(d, id, replicas), rollingUpdate: (id, usesWith) => rollingUpdateSpread(d, id, usesWith) }),
  };
}

function service(d: ObjectDeps): ObjectService {
  return {
    checkWorkspace: (workspaceId) => void d.workspaces.requireActive(workspaceId),
    create: (input) => createObject(d, input),
    get: (id) => objectItem(d, mustRow(d, id)),
    async list() {
      const items = Object.fromEntries(await Promise.all(d.repo.all().map(async (r) => [r.id, await objectItem(d, r)] as const)));
      return { ...(await d.store.counters(d.spec.kind)), items };
    },
    remove: (id) => removeObject(d, id),
    async clear() {
      for (const r of d.repo.all()) await removeObject(d, r.id);
    },
    scale: (id, replicas, podName) => scaleObject(d, id, replicas, podName),
    rollingUpdate: (id, usesWith, podName) => rollingUpdateObject(d, id, usesWith, podName),
  };
}

/**
 * Define an object kind; the result is a plugin (default-export it from the kind's folder).
 *
 *   import { defineObjectKind, v } from 'jinad/plugin';
 *   export default defineObjectKind({
 *     kind: 'worker',
 *     mode: 'pea',
 *     description: 'One executor, routes /workers',
 *     create: { summary: 'Start a worker', body: v.looseObject({ uses: v.string() }) },
 *     arguments: v.object({ uses: v.string() }),
 *     prepare: ({ body, envs }) => ({ ports: [{ container: 8081 }], partialBody: { pea: { ...body, port_in: 8081 }, envs }, record: { args: body }, replicas: { worker: 1 } }),
 *   });
 */
export function defineObjectKind(spec: ObjectKindSpec): PluginDefinition {
  if (!/^[a-z][a-z0-9]*$/.test(spec.kind)) throw new Error(`object kind '${spec.kind}': use lower-case letters and digits`);
  return definePlugin({
    name: spec.kind,
    prefix: `/${spec.kind}s`,
    dependsOn: ['workspace'],
    description: spec.description,
    async setup(api) {
      const repo = await openObjectRepo(api.store, spec.kind);
      const workspaces = api.use('workspaces');
      const d: ObjectDeps = {
        spec,
        backend: api.backend,
        store: api.store,
        repo,
        workspaces,
        readyTimeoutMs: api.config.readyTimeoutMs,
        health: api.config.health,
        jinaLogLevel: api.config.jinaLogLevel,
        limits: api.config.limits,
        containerLimits: api.config.containerLimits,
        replicaCounts: api.use('replicas'),
        starts: api.use('starts'),
        live: api.use('live'),
        log: api.log,
        removing: new Map(),
        starting: new Map(),
        restarting: new Set(),
        measure: objectMetrics(api.use('metrics')),
        idleTimeout: api.config.idleTimeout,
        idleSpares: api.config.idleSpares,
        // The policies over the lifecycle, made from these deps just below.
        idler: undefined as unknown as Idler,
        hooks: undefined as unknown as StartHooks,
      };
      d.idler = createIdler(d, api.config.publishHost, idleMetrics(api.use('metrics')));
      d.hooks = startHooks(d);
      const svc = service(d);
      api.use('objects').set(spec.kind, svc);
      api.ownKind(spec.kind, { workspaceOf: (id) => repo.get(id)?.workspaceId ?? d.starting.get(id) });
      d.replicaCounts.add(() => repo.all().map((r) => ({ workspaceId: r.workspaceId, replicas: replicasOf(r) })));
      workspaces.onDelete(async (workspaceId) => {
        for (const r of repo.inWorkspace(workspaceId)) await removeObject(d, r.id);
      });
      workspaces.listManaged((workspaceId) => repo.inWorkspace(workspaceId).map((r) => r.id));
      api.onReconcile(() => reconcileObjects(d));
      d.live.onReconnect(() => reviveObjects(d));
      const stopKeeping = keepRunning(d);
      api.onClose(stopKeeping);
      api.onReady(async () => {
        // Idle-enabled objects: their ports are held again (an idle one stays idle, and wakes).
        for (const r of repo.all()) await d.idler.resume(r);
        void recreateMissing(d).catch((err) => api.log.warn('recreating objects failed', err));
      });
      api.onClose(() => d.idler.close());
      if (spec.scrape) {
        api.use('metrics').addTargets(() =>
          repo.all().flatMap((r) => {
            const state = d.live.get(r.id);
            if (!state?.running || r.start?.scrape === false) return [];
            const inside = Object.keys(state.ports).map((p) => Number.parseInt(p, 10)).filter((p) => p !== PARTIAL_PORT);
            return inside.map((p) => ({ targets: [endpointOf(state, p)!.replace(/^http:\/\//, '')], labels: { jinad_kind: spec.kind, jinad_object: r.id, jinad_workspace: r.workspaceId } }));
          }),
        );
      }
      // As JinaD 2.0's DaemonStatus has it: the kind's whole store status (GET /<kind>s), and its size.
      api.onStatus(async () => ({ [`${spec.kind}s`]: { ...(await svc.list()), size: repo.all().length } }));
      objectRoutes(api.router, svc, spec);
    },
  });
}
