/**
 * Keeping objects running, per their restart policy (`no`, `on-failure[:max]`, `always`).
 *
 * The engine does the common case itself (the policy is set on the container): a crashed object
 * is started again with a growing delay, even while the daemon is away, and its partial daemon
 * runs the same object again from its state file. The keeper does what an engine does not:
 * - records each stop that nobody asked for (exit code, OOM kill, reason) and each restart;
 * - starts again an object the engine left stopped although its policy says otherwise (Docker
 *   does not restart a container stopped by `docker kill`), with a growing delay;
 * - recreates an `always` object whose container was removed (`docker rm -f`), also at start-up;
 * - restarts an object whose partial daemon stopped answering for `health.unhealthyAfterMs`;
 * - after the engine itself restarted, starts the objects it did not (policy permitting).
 */
import type { ObjectEvent } from '../backend/types.ts';
import { endpointOf } from '../backend/types.ts';
import { parseRestart, type RestartPolicy } from '../contract/restart.ts';
import { PARTIAL_PORT } from './partial.ts';
import { type ObjectDeps, restartTextOf, start, startInside, uriOf } from './lifecycle.ts';
import type { ObjectRow } from './schema.ts';

const restartOf = (r: ObjectRow): RestartPolicy => parseRestart(restartTextOf(r));
const policyOf = (r: ObjectRow) => restartOf(r).name;

function exitReason(code: number | undefined, oom: boolean): string {
  if (oom) return `killed: over its memory limit (exit code ${code ?? 137})`;
  if (code === 137) return 'killed (exit code 137)';
  if (code === 143) return 'terminated (exit code 143)';
  return code === undefined ? 'stopped' : `exited with code ${code}`;
}

/** Whether the daemon, rather than a person or the engine, should leave this object alone now. */
const busy = (d: ObjectDeps, id: string) => d.removing.has(id) || d.starting.has(id) || d.restarting.has(id) || d.idler.asleep(id);

async function recordExit(d: ObjectDeps, r: ObjectRow, exit: { exit_code: number | null; oom_killed: boolean; reason: string }): Promise<void> {
  const now = d.repo.get(r.id);
  if (!now) return;
  await d.repo.patch(r.id, { metadata: { ...now.metadata, last_exit: { time: new Date().toISOString(), ...exit } } });
}

/**
 * Count a start of the object's container that was not its creation: once per container start,
 * told apart by the engine's start time (an event may come late, or twice).
 */
function countRestart(d: ObjectDeps, id: string): Promise<void> {
  // One at a time per object: an event and the daemon's own restart may ask at once.
  const next = (counting.get(id) ?? Promise.resolve()).then(() => countOnce(d, id));
  const settled = next.catch(() => {});
  counting.set(id, settled);
  void settled.then(() => counting.get(id) === settled && counting.delete(id));
  return next;
}
const counting = new Map<string, Promise<void>>();

async function countOnce(d: ObjectDeps, id: string): Promise<void> {
  const state = await d.backend.inspectObject(id).catch(() => undefined);
  const r = d.repo.get(id);
  if (!r || !state?.running || state.startedAt === r.metadata.started_at) return;
  const restarts = (r.metadata.restarts ?? 0) + 1;
  await d.repo.patch(id, { metadata: { ...r.metadata, restarts, started_at: state.startedAt } });
  d.measure.restarts.inc({ kind: d.spec.kind });
  d.log.info(`${d.spec.kind} ${id} is running again (restart ${restarts}, policy ${policyOf(r)})`);
}

/** Do `fn` as the daemon's own restart of `id`: its stop is not read as a crash (its start is counted as any restart). */
async function asRestart(d: ObjectDeps, id: string, fn: () => Promise<void>): Promise<void> {
  if (d.restarting.has(id)) return;
  d.restarting.add(id);
  try {
    await d.starts.run(fn);
  } finally {
    d.restarting.delete(id);
  }
  await countRestart(d, id); // in case its start event came while the id was marked
}

/** Make an object whose container is gone again, as it was created (a new container, same id). */
export async function recreateObject(d: ObjectDeps, r: ObjectRow, why: string): Promise<void> {
  if (!r.start) return;
  const startSpec = r.start;
  try {
    await asRestart(d, r.id, async () => {
      const ws = d.workspaces.requireActive(r.workspaceId);
      const { state, uri, object } = await start(d, r.id, r.workspaceId, startSpec, ws.image);
      d.live.set(state);
      const now = d.repo.get(r.id);
      if (!now) return void (await d.backend.removeObject(r.id)); // deleted meanwhile
      await d.repo.patch(r.id, { metadata: { ...now.metadata, ports: state.ports, uri }, arguments: { ...now.arguments, object } });
    });
    d.log.warn(`${d.spec.kind} ${r.id} was made again: ${why}`);
  } catch (err) {
    d.log.warn(`${d.spec.kind} ${r.id} could not be made again (${why})`, err);
    await recordExit(d, r, { exit_code: null, oom_killed: false, reason: `could not be made again: ${(err as Error).message}` });
  }
}

/**
 * After the engine came back (it restarted, and every object stopped with it): start each object
 * whose policy allows it and that the engine did not start itself. One that cannot start stays
 * stopped, its status showing why; none is lost.
 */
export async function reviveObjects(d: ObjectDeps): Promise<void> {
  for (const r of d.repo.all()) {
    const state = d.live.get(r.id);
    const policy = policyOf(r);
    if (!r.start || busy(d, r.id) || policy === 'no') continue;
    if (!state) {
      if (policy === 'always') await recreateObject(d, r, 'its container was gone after the engine came back');
      continue;
    }
    if (!state.running) await startAgain(d, r, 'the engine came back');
  }
}

/** Start a stopped object's container again; its partial daemon resumes the object (or is told to start it). */
async function startAgain(d: ObjectDeps, r: ObjectRow, why: string): Promise<void> {
  try {
    await asRestart(d, r.id, async () => {
      const started = await d.backend.startObject(r.id);
      if (!started) return;
      d.live.set(started);
      const uri = endpointOf(started, PARTIAL_PORT) ?? '';
      const object = await startInside(d, r.id, uri, r.start?.partialBody ?? {});
      const now = d.repo.get(r.id) ?? r;
      await d.repo.patch(r.id, { metadata: { ...now.metadata, ports: started.ports, uri }, arguments: { ...now.arguments, object } });
    });
    d.log.info(`${d.spec.kind} ${r.id} started again: ${why}`);
  } catch (err) {
    d.log.warn(`${d.spec.kind} ${r.id} could not start again (${why})`, err);
  }
}

/** Restarts in a row the keeper made for an object that keeps stopping (its growing delay, on-failure's max). */
interface Streak {
  count: number;
  lastStart: number;
}
/** An object that ran this long before it stopped starts a new streak. */
const STREAK_RESET_MS = 10_000;
const delayOf = (n: number) => Math.min(100 * 2 ** n, 10_000);

/** After a stop: if the engine left the object stopped but its policy says run, start it again (after a growing delay). */
async function afterStop(d: ObjectDeps, id: string, exitCode: number | undefined, streaks: Map<string, Streak>, stopped: () => boolean): Promise<void> {
  const r = d.repo.get(id);
  if (!r) return;
  const { name: policy, max } = restartOf(r);
  if (policy === 'no' || (policy === 'on-failure' && exitCode === 0)) return;
  const state = await d.backend.inspectObject(id).catch(() => undefined);
  if (!state || state.running || state.status === 'restarting') return; // gone, or the engine restarts it
  const now = Date.now();
  const prev = streaks.get(id);
  const streak = prev && now - prev.lastStart < STREAK_RESET_MS ? prev : { count: 0, lastStart: now };
  if (max && streak.count >= max) {
    d.log.warn(`${d.spec.kind} ${id} stopped ${streak.count + 1} times in a row; on-failure:${max} gives up`);
    return;
  }
  const delay = delayOf(streak.count);
  streaks.set(id, { count: streak.count + 1, lastStart: now + delay });
  await new Promise((resolve) => setTimeout(resolve, delay).unref());
  const again = d.repo.get(id);
  if (stopped() || !again || busy(d, id) || d.live.get(id)?.running) return;
  await startAgain(d, again, `restart policy ${policy}${max ? `:${max}` : ''}`);
}

/** Restart an object that stopped answering; the engine starts it again and it resumes its object. */
async function restartUnhealthy(d: ObjectDeps, r: ObjectRow, silentMs: number): Promise<void> {
  const reason = `unhealthy: its partial daemon did not answer for ${(silentMs / 1000).toFixed(1)} s`;
  d.log.warn(`${d.spec.kind} ${r.id} is ${reason}; restarting it`);
  await recordExit(d, r, { exit_code: null, oom_killed: false, reason });
  try {
    await asRestart(d, r.id, async () => {
      const started = await d.backend.restartObject(r.id);
      if (!started) return;
      d.live.set(started);
      await startInside(d, r.id, endpointOf(started, PARTIAL_PORT) ?? '', r.start?.partialBody ?? {});
    });
  } catch (err) {
    d.log.warn(`${d.spec.kind} ${r.id} could not be restarted`, err);
  }
}

/** Follow this kind's objects; returns a stop function. */
export function keepRunning(d: ObjectDeps): () => void {
  const oom = new Set<string>();
  const streaks = new Map<string, Streak>();
  let stopped = false;
  const onEvent = (ev: ObjectEvent) => {
    if (ev.kind !== d.spec.kind || d.idler.asleep(ev.id)) return; // stopped for idleness, or waking: not a failure, not a restart
    const r = d.repo.get(ev.id);
    if (!r || d.removing.has(ev.id) || d.starting.has(ev.id)) return;
    if (ev.action === 'start') return void countRestart(d, ev.id).catch(() => {});
    if (d.restarting.has(ev.id)) return; // the daemon's own stop, recorded by whoever restarts it
    if (ev.action === 'oom') oom.add(ev.id);
    else if (ev.action === 'die') {
      const killed = oom.delete(ev.id);
      const reason = exitReason(ev.exitCode, killed);
      d.log.warn(`${d.spec.kind} ${ev.id} stopped: ${reason} (restart policy ${policyOf(r)})`);
      void recordExit(d, r, { exit_code: ev.exitCode ?? null, oom_killed: killed, reason });
      void afterStop(d, ev.id, ev.exitCode, streaks, () => stopped).catch((err) => d.log.warn(`restarting ${ev.id} failed`, err));
    } else if (ev.action === 'destroy') {
      streaks.delete(ev.id);
      if (policyOf(r) === 'always') void recreateObject(d, r, 'its container was removed');
    }
  };
  d.live.onEvent(onEvent);

  // Health: the partial daemon of every running object with a policy, asked in turn.
  const silentSince = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  const check = async () => {
    const now = Date.now();
    await Promise.all(
      d.repo.all().map(async (r) => {
        const state = d.live.get(r.id);
        if (!state?.running || busy(d, r.id) || policyOf(r) === 'no') return silentSince.delete(r.id);
        const ok = await fetch(`${uriOf(d, r)}/`, { signal: AbortSignal.timeout(Math.min(2000, d.health.intervalMs)) }).then(
          (res) => res.ok,
          () => false,
        );
        if (ok) return silentSince.delete(r.id);
        const since = silentSince.get(r.id) ?? now;
        silentSince.set(r.id, since);
        if (now - since >= d.health.unhealthyAfterMs) {
          silentSince.delete(r.id);
          await restartUnhealthy(d, r, now - since);
        }
      }),
    );
  };
  const tick = () => {
    timer = setTimeout(() => {
      check()
        .catch((err) => d.log.warn('health check failed', err))
        .finally(() => !stopped && tick());
    }, d.health.intervalMs);
    timer.unref();
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** At start-up: make again the `always` objects whose containers went while the daemon was away. */
export async function recreateMissing(d: ObjectDeps): Promise<void> {
  if (!d.live.synced) return; // the engine is away: the reconnect revives them
  for (const r of d.repo.all()) {
    if (policyOf(r) === 'always' && !d.live.get(r.id) && !busy(d, r.id)) await recreateObject(d, r, 'its container was gone when the daemon started');
  }
}
