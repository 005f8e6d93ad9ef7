/**
 * Spread Pods: on a backend of several machines (`Backend.spreadsReplicas`, the Swarm), a Pod's
 * replicas are copies of the object (Swarm tasks) spread over the nodes, each running the Pod
 * with one replica, instead of processes in one container. Scale changes the number of copies;
 * rolling_update gives the copies new `uses_with` (the backend starts each new copy before an
 * old one stops). Every copy starts its Pod by itself, from `JINAD_PARTIAL_START`.
 */
import { endpointOf } from '../backend/types.ts';
import { fail } from '../errors.ts';
import { modeOf, mustRow, type ObjectDeps, startEnv } from './lifecycle.ts';
import { PARTIAL_PORT, partialCall } from './partial.ts';

/** Whether this kind's replicas are spread over machines on this backend. */
export const spreads = (d: Pick<ObjectDeps, 'backend' | 'spec'>) => !!d.backend.spreadsReplicas && !!d.backend.updateObject && modeOf(d.spec) === 'pod';

/** What each copy runs (its Pod with one replica) and how many copies; undefined when replicas are not spread. */
export function spreadOf(d: Pick<ObjectDeps, 'backend' | 'spec'>, partialBody: Record<string, unknown>): { copies: number; body: Record<string, unknown> } | undefined {
  if (!spreads(d)) return undefined;
  const pod = (partialBody.pod ?? {}) as Record<string, unknown>;
  return { copies: Number(pod.replicas ?? 1) || 1, body: { ...partialBody, pod: { ...pod, replicas: 1 } } };
}


/** Scale a spread Pod: the backend runs `replicas` copies (and a later re-creation as many). */
export async function scaleSpread(d: ObjectDeps, id: string, replicas: number): Promise<void> {
  const state = await d.backend.updateObject!(id, { replicas }).catch((err) => {
    throw fail('object_update_failed', `scaling ${id} to ${replicas} copies failed: ${(err as Error).message}`, [], err);
  });
  if (state) d.live.set(state);
  const start = mustRow(d, id).start;
  if (start) await d.repo.patch(id, { start: { ...start, partialBody: { ...start.partialBody, pod: { ...(start.partialBody.pod as object), replicas } } } });
}

/** Give every copy of a spread Pod new `uses_with`, one copy at a time; kept for its later starts. */
export async function rollingUpdateSpread(d: ObjectDeps, id: string, usesWith: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
  const r = mustRow(d, id);
  const start = r.start!;
  const pod = { ...((start.partialBody.pod ?? {}) as Record<string, unknown>), uses_with: usesWith };
  const partialBody = { ...start.partialBody, pod };
  const each = spreadOf(d, partialBody)!;
  const state = await d.backend.updateObject!(id, { env: { JINAD_PARTIAL_START: startEnv(d, each.body) } }).catch((err) => {
    throw fail('object_update_failed', `the rolling update of ${id} failed: ${(err as Error).message}`, [], err);
  });
  if (state) d.live.set(state);
  await d.repo.patch(id, { start: { ...start, partialBody } });
  // The Pod as a new copy runs it now.
  const uri = state && endpointOf(state, PARTIAL_PORT);
  const now = uri ? await partialCall(uri, 'GET', `/${modeOf(d.spec)}`).catch(() => undefined) : undefined;
  return now?.status === 200 ? (now.json as Record<string, unknown>) : undefined;
}
