/**
 * After a restart: drop orphaned backend objects, fail builds that cannot resume, repair ACTIVE
 * workspaces. What exists is read in one listing, so a restart with hundreds of workspaces makes
 * calls only for what needs repair.
 */
import { storedJinad } from './jinadfile.ts';
import { short, type WorkspaceCtx } from './context.ts';
import { startRunObject } from './build.ts';
import { deleteEverything, emptyTrash, removeBackendObjects } from './remove.ts';

export async function reconcile(ctx: WorkspaceCtx): Promise<void> {
  const { api, repo } = ctx;
  const { backend, log } = api;
  await emptyTrash(ctx);
  const rows = repo.all();
  const known = new Set(rows.map((r) => r.id));
  const owned = await backend.listOwned();
  const tags = new Set(owned.images.flatMap((i) => i.tags));
  const networks = new Set(owned.isolations.map((n) => n.workspaceId));
  const objects = new Set(owned.objects.map((o) => o.id));
  const tagged = [...tags].filter((t) => t.startsWith('jworkspace:')).map((t) => `jworkspace-${t.slice('jworkspace:'.length)}`);
  const orphans = new Set([...owned.objects.map((o) => o.workspaceId), ...owned.isolations.map((n) => n.workspaceId), ...tagged].filter((w) => w && !known.has(w)));
  for (const id of orphans) {
    log.info(`removing backend objects of ${id}, which is not in the store`);
    await removeBackendObjects(ctx, id);
  }
  // No build runs yet (jobs resume after reconcile): images earlier builds left can go.
  const pruning = backend.pruneImages(owned.images).then((n) => n && log.info(`removed ${n} workspace image(s) replaced by a rebuild that nothing used any more`));
  const queued = await api.jobs.persistedKeys();
  for (const r of rows) {
    if (r.state === 'DELETING') await deleteEverything(ctx, r.id);
    else if ((r.state === 'PENDING' || r.state === 'CREATING' || r.state === 'UPDATING') && !queued.has(r.id)) {
      await repo.patch(r.id, { state: 'FAILED', reason: `interrupted by restart; PUT /workspaces/${r.id} to build it again` });
    } else if (r.state === 'ACTIVE') {
      const image = r.metadata.image_name ?? '';
      if (!tags.has(image) && !(await backend.imageId(image))) {
        await repo.patch(r.id, { state: 'FAILED', reason: `image ${image} is missing from the Docker Engine; PUT /workspaces/${r.id} to rebuild it` });
        continue;
      }
      if (!networks.has(r.id)) await backend.isolate(r.id);
      const jinad = storedJinad(r.arguments);
      if (jinad.run && !objects.has(r.id)) {
        log.info(`restarting the run container of ${r.id}`);
        const o = await startRunObject(ctx, r.id, image, jinad);
        await repo.patch(r.id, { metadata: { ...r.metadata, container_id: short(o.ref) } });
      }
    }
  }
  await pruning;
}

/** After the engine came back: start again the `run` objects that stopped with it. */
export async function reviveRuns(ctx: WorkspaceCtx): Promise<void> {
  const live = ctx.api.use('live');
  for (const r of ctx.repo.all()) {
    const state = live.get(r.id);
    if (r.state !== 'ACTIVE' || !r.metadata.container_id || !state || state.running) continue;
    const started = await ctx.api.backend.startObject(r.id).catch((err) => ctx.api.log.warn(`the run container of ${r.id} could not start again`, err));
    if (started) live.set(started);
  }
}
