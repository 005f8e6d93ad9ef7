/**
 * Live states of every object, kept from the backend's event stream with a periodic resync, so
 * a list costs the same at 1,000 objects as at 10 (no inspect per item per request). An event
 * for an object re-reads that object alone; a resync reads them all in one call. The daemon
 * provides one to every object kind (service `live`).
 */
import type { Backend, ObjectEvent, ObjectState } from '../backend/types.ts';
import type { Logger } from '../logger.ts';

export interface LiveStates {
  /** The object's state as last seen; undefined when unknown (not synced yet, or gone). */
  get(id: string): ObjectState | undefined;
  /** Every object's state as last seen. */
  all(): ObjectState[];
  /** Record a state the caller has just read (e.g. right after starting the object). */
  set(state: ObjectState): void;
  /** Whether a full sync has happened (before that, callers read the backend themselves). */
  readonly synced: boolean;
  /** Called after the event stream came back (the engine restarted, or was out of reach), once resynced. */
  onReconnect(fn: () => Promise<void>): void;
  /** Called when an object that was running is seen stopped (by an event or a resync). */
  onStop(fn: (state: ObjectState) => void): void;
  /** Called for every event of the backend's stream (start, die, oom, destroy, …), as it arrives. */
  onEvent(fn: (event: ObjectEvent) => void): void;
  start(): Promise<void>;
  stop(): void;
}

/** While the engine is away, how often to look for it again. */
const RECONNECT_MS = 1000;

export function createLiveStates(backend: Backend, log: Logger, resyncMs = 30_000): LiveStates {
  const states = new Map<string, ObjectState>();
  let synced = false;
  let timer: NodeJS.Timeout | undefined;
  let retry: NodeJS.Timeout | undefined;
  let unwatch: (() => void) | undefined;
  let stopped = false;
  const reconnectHooks: (() => Promise<void>)[] = [];
  const stopHooks: ((state: ObjectState) => void)[] = [];
  const eventHooks: ((event: ObjectEvent) => void)[] = [];

  const put = (state: ObjectState) => {
    const before = states.get(state.id);
    states.set(state.id, state);
    if (before?.running && !state.running && before.ref === state.ref) {
      for (const fn of stopHooks) {
        try {
          fn(state);
        } catch (err) {
          log.warn(`a stop hook failed for ${state.id}`, err);
        }
      }
    }
  };
  const refresh = async (id: string) => {
    const state = await backend.inspectObject(id);
    if (state) put(state);
    else states.delete(id);
    return state;
  };
  const resync = async () => {
    const all = await backend.objectStates();
    const seen = new Set<string>();
    for (const s of all) {
      put(s);
      seen.add(s.id);
    }
    for (const id of states.keys()) if (!seen.has(id)) states.delete(id);
    synced = true;
  };
  const tick = () => {
    timer = setTimeout(() => {
      resync()
        .catch((err) => log.warn('resync of live object states failed', err))
        .finally(() => !stopped && tick());
    }, resyncMs);
    timer.unref();
  };

  const follow = async () => {
    unwatch = await backend.watch(
      (ev) => {
        if (ev.action !== 'destroy') void refresh(ev.id).catch(() => {});
        // A removed container whose name another took since (a spare became the object) is not the object's end.
        else if (!ev.ref || states.get(ev.id)?.ref === ev.ref) states.delete(ev.id);
        for (const fn of eventHooks) {
          try {
            fn(ev);
          } catch (err) {
            log.warn(`an event hook failed for ${ev.id}`, err);
          }
        }
      },
      () => {
        // The stream ended: the engine restarted or went away. Look for it until it is back.
        unwatch = undefined;
        if (!stopped) reconnect();
      },
    );
  };
  const reconnect = () => {
    clearTimeout(retry);
    retry = setTimeout(async () => {
      try {
        await follow();
        await resync();
        log.info('the backend is back: following its events again');
        for (const fn of reconnectHooks) await fn().catch((err) => log.warn('a reconnect step failed', err));
      } catch {
        if (!stopped && !unwatch) reconnect();
      }
    }, RECONNECT_MS);
    retry.unref();
  };

  return {
    get: (id) => states.get(id),
    all: () => [...states.values()],
    onReconnect: (fn) => void reconnectHooks.push(fn),
    onStop: (fn) => void stopHooks.push(fn),
    onEvent: (fn) => void eventHooks.push(fn),
    set: put,
    get synced() {
      return synced;
    },
    async start() {
      try {
        await follow();
        await resync();
      } catch (err) {
        reconnect(); // down at start: followed once it is reachable
        throw err;
      } finally {
        tick();
      }
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      clearTimeout(retry);
      unwatch?.();
      unwatch = undefined;
    },
  };
}
