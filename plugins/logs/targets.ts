/**
 * Which log file an id names, and the streams to end when its object goes away. An id's kind
 * is owned by a plugin, which says which workspace it is in; a deleted object's logs stay with
 * its workspace.
 */
import { existsSync } from 'node:fs';
import { fail, type PluginApi } from 'jinad/plugin';
import type { Collector } from './collector.ts';
import type { LogsOptions } from './options.ts';

export interface Target {
  file: string;
  workspaceId: string;
}

export function logTargets(api: PluginApi<LogsOptions>, collector: Collector) {
  const workspaces = api.use('workspaces');
  /** Streams to end when an object goes away: id → closers. */
  const gone = new Map<string, Set<(reason: string) => void>>();
  const announce = (id: string, reason: string) => {
    for (const fn of gone.get(id) ?? []) fn(reason);
  };
  workspaces.onDelete(async (id) => announce(id, `${id} was deleted`));
  // Not a start step: a backend that is down now must not stop the daemon from starting.
  api.onReconcile(async () => {
    const stop = await api.backend.watch((ev) => {
      if (ev.action === 'destroy') announce(ev.id, `${ev.id} was deleted`);
    });
    api.onClose(stop);
  });

  return {
    /** Call `fn` when the object goes away; returns the function that stops watching. */
    onGone(id: string, fn: (reason: string) => void): () => void {
      let set = gone.get(id);
      if (!set) gone.set(id, (set = new Set()));
      set.add(fn);
      return () => {
        set!.delete(fn);
        if (!set!.size) gone.delete(id);
      };
    },
    /** Where an id's log file is. Unknown → 404. */
    resolve(id: string): Target {
      const owned = api.kinds.resolve(id);
      if (owned?.kind === 'workspace') return { file: workspaces.buildLog(id), workspaceId: id };
      if (owned) return { file: collector.fileFor(owned.workspaceId, id), workspaceId: owned.workspaceId };
      for (const w of workspaces.list()) {
        const file = collector.fileFor(w, id);
        if (existsSync(file)) return { file, workspaceId: w };
      }
      throw fail('log_not_found', `log file ${id} not found in ${id.slice(1, id.indexOf('-'))} store`);
    },
  };
}
