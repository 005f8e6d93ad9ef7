/** Deleting a workspace: parts of it (JinaD's `container`, `network`, `files` flags) or everything. */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fail, type WorkspaceState } from 'jinad/plugin';
import { imageTagOf, KIND, mustRow, stagingDirOf, type WorkspaceCtx, workdirOf } from './context.ts';

export interface DeleteFlags {
  container: boolean;
  network: boolean;
  files: boolean;
  everything: boolean;
}

/**
 * Remove every backend object of this workspace, its network and its image tag. An object that
 * was starting while the list was taken (its create had passed the ACTIVE check) may attach
 * late: the list is taken again until the network goes.
 */
export async function removeBackendObjects(ctx: WorkspaceCtx, id: string): Promise<void> {
  const { backend } = ctx.api;
  for (let attempt = 1; ; attempt++) {
    const owned = await backend.listOwned({ workspaceId: id });
    await Promise.all(owned.objects.map((o) => backend.removeObject(o.id)));
    try {
      await backend.removeIsolation(id);
      break;
    } catch (err) {
      if (attempt >= 10) throw fail('workspace_busy', `the network of ${id} still has objects attached: ${(err as Error).message}`, undefined, err);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  await backend.removeImage(imageTagOf(id));
}

/**
 * Delete a workspace with everything in it; concurrent calls for one workspace share one deletion.
 * `prune`: also remove images earlier builds left (pass false when deleting many, then prune once).
 */
export function deleteEverything(ctx: WorkspaceCtx, id: string, prune = true): Promise<void> {
  let running = ctx.deleting.get(id);
  if (!running) {
    running = deleteNow(ctx, id, prune).finally(() => ctx.deleting.delete(id));
    ctx.deleting.set(id, running);
  }
  return running;
}

/** Delete every workspace, a few at a time, then prune replaced images once. */
export async function deleteAll(ctx: WorkspaceCtx): Promise<void> {
  const ids = ctx.repo.all().map((r) => r.id);
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < ids.length) await deleteEverything(ctx, ids[next++]!, false);
    }),
  );
  await prune(ctx);
}

/** Images an earlier build left while objects still used them (only when no build runs: see pruneImages). */
async function prune(ctx: WorkspaceCtx): Promise<void> {
  const { api } = ctx;
  if (api.jobs.size === 0) await api.backend.pruneImages().catch((err) => api.log.warn('could not prune replaced workspace images', err));
}

async function deleteNow(ctx: WorkspaceCtx, id: string, pruneAfter: boolean): Promise<void> {
  const { api, repo } = ctx;
  await repo.patch(id, { state: 'DELETING' });
  await api.jobs.cancel(id);
  for (const hook of ctx.deleteHooks) await hook(id);
  await removeBackendObjects(ctx, id);
  api.logFiles.closeUnder(api.daemonDir(id));
  await Promise.all([workdirOf(ctx, id), api.daemonDir(id), stagingDirOf(ctx, id)].map((dir) => discard(ctx, dir)));
  await repo.remove(id);
  await api.store.count(KIND, { del: 1 });
  if (pruneAfter) await prune(ctx);
  api.log.info(`workspace ${id} deleted with everything`);
}

export async function removeParts(ctx: WorkspaceCtx, id: string, flags: DeleteFlags): Promise<void> {
  const { api, repo } = ctx;
  if (flags.everything && ctx.deleting.has(id)) return deleteEverything(ctx, id);
  const r = mustRow(ctx, id);
  if (flags.everything) return deleteEverything(ctx, id);
  // By the state, not the job count: a build that just made the workspace ACTIVE is still
  // finishing its job for a moment, and is not a build this DELETE cancels.
  const building = r.state === 'PENDING' || r.state === 'CREATING' || r.state === 'UPDATING';
  await api.jobs.cancel(id);
  const metadata = { ...r.metadata };
  const gone: string[] = [];
  if (flags.container) {
    await api.backend.removeObject(id);
    metadata.container_id = null;
  }
  if (flags.network) {
    try {
      await api.backend.removeIsolation(id);
      metadata.network = null;
      gone.push('network');
    } catch (err) {
      api.log.warn(`network of ${id} kept: objects are still attached`, err);
    }
  }
  const wd = workdirOf(ctx, id);
  if (flags.files && existsSync(wd)) {
    for (const f of await readdir(wd)) await rm(path.join(wd, f), { recursive: true, force: true });
    gone.push('files');
  }
  // The original left such a workspace ACTIVE, and later objects failed at Docker level.
  const unusable = gone.length > 0 || building;
  const why = building ? 'its build was cancelled by DELETE' : `its ${gone.join(' and ')} removed by DELETE`;
  await repo.patch(id, {
    metadata,
    ...(unusable ? { state: 'FAILED' as WorkspaceState, reason: `${why}; PUT /workspaces/${id} to build it again` } : {}),
  });
}

/** Where discarded folders wait for their removal (below the root: a rename, not a copy). */
const trashOf = (ctx: WorkspaceCtx) => path.join(ctx.api.config.root, '.trash');

/**
 * Take a folder out of its place at once (one rename) and remove it behind the answer: under
 * load a recursive removal waited a second or more for the file system (bench/mixed-load.ts).
 */
async function discard(ctx: WorkspaceCtx, dir: string): Promise<void> {
  const to = path.join(trashOf(ctx), randomUUID());
  // One rename, done at once: queued on libuv's thread pool it waited behind the file work of
  // uploads and of earlier deletions' removals (p50 170 ms under bench/mixed-load.ts).
  mkdirSync(trashOf(ctx), { recursive: true });
  try {
    renameSync(dir, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // nothing there
    throw err;
  }
  // Removed one folder at a time, behind the answer: a recursive removal is many file
  // operations at once, and several together fill the thread pool (not measured apart from the rename).
  trashing = trashing.then(() => rm(to, { recursive: true, force: true }).catch((err) => ctx.api.log.warn(`could not remove ${to}`, err)));
}
let trashing: Promise<unknown> = Promise.resolve();

/** At start: what an earlier run discarded and had not removed yet (it stopped meanwhile). */
export async function emptyTrash(ctx: WorkspaceCtx): Promise<void> {
  const trash = trashOf(ctx);
  const left = await readdir(trash).catch(() => [] as string[]);
  await Promise.all(left.map((f) => rm(path.join(trash, f), { recursive: true, force: true })));
}
