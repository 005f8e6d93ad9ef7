/** The workspace items, as the routes serve them, and the `workspaces` service other plugins use. */
import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fail, type StagedFiles, type WorkspaceItem, type WorkspaceService } from 'jinad/plugin';
import { buildLogOf, KIND, mustRow, stagingDirOf, type WorkspaceCtx, workdirOf } from './context.ts';
import { needsPython } from './dockerfile.ts';
import { safeRelative } from './files.ts';
import { receiveUploads } from './receive.ts';
import { deleteEverything } from './remove.ts';
import { submit } from './upload.ts';
import { resourcesOf, storedJinad } from './jinadfile.ts';
import type { WorkspaceRow } from './schema.ts';

/** The `run` object's live state: a `run` command that died shows, with its exit code. */
function runState(ctx: WorkspaceCtx, r: WorkspaceRow): { container_status: string | null; container_exit_code: number | null; container_oom_killed: boolean | null } {
  if (!r.metadata.container_id) return { container_status: null, container_exit_code: null, container_oom_killed: null };
  const live = ctx.api.use('live').get(r.id);
  return { container_status: live?.status ?? 'missing', container_exit_code: live ? live.exitCode : null, container_oom_killed: live ? live.oomKilled : null };
}

export function toItem(ctx: WorkspaceCtx, r: WorkspaceRow): WorkspaceItem {
  return {
    time_created: r.timeCreated,
    time_updated: r.timeUpdated,
    state: r.state,
    reason: r.reason,
    log_tail: r.logTail ?? [],
    queued: ctx.api.jobs.pending(r.id),
    // JinaD 2.0's metadata is null until the image exists (a new workspace building, or whose first build failed).
    metadata: r.metadata.image_id === null ? null : { ...r.metadata, ...runState(ctx, r), managed_objects: ctx.managed.flatMap((p) => p(r.id)) },
    arguments: r.arguments ?? null,
  };
}

/**
 * JinaD 2.0's network allocation fields of the store status: the pool's first address, each
 * workspace network's prefix, and the addresses the networks hold (here subnets are picked free
 * in the pool rather than from a counter). Zeros when Docker allocates (`networkPool: false`).
 */
function networkPool(ctx: WorkspaceCtx) {
  const pool = ctx.api.config.networkPool;
  if (!pool) return { ip_range_start: '0.0.0.0', subnet_size: 0, ip_range_current_offset: 0 };
  const withNetwork = ctx.repo.all().filter((r) => r.metadata).length;
  return { ip_range_start: pool.subnet.split('/')[0]!, subnet_size: pool.prefix, ip_range_current_offset: withNetwork * 2 ** (32 - pool.prefix) };
}

export async function listItems(ctx: WorkspaceCtx) {
  const items = Object.fromEntries(ctx.repo.all().map((r) => [r.id, toItem(ctx, r)]));
  return { ...(await ctx.api.store.counters(KIND)), ...networkPool(ctx), items };
}

/** `GET /status`'s `workspaces`: the store status as `GET /workspaces` gives it, with counts by state. */
export async function statusCounts(ctx: WorkspaceCtx) {
  const byState: Record<string, number> = {};
  for (const r of ctx.repo.all()) byState[r.state] = (byState[r.state] ?? 0) + 1;
  const all = await listItems(ctx);
  return { ...all, size: Object.keys(all.items).length, states: byState };
}

export function workspaceService(ctx: WorkspaceCtx): WorkspaceService {
  return {
    get(id) {
      const r = ctx.repo.get(id);
      return r && toItem(ctx, r);
    },
    has: (id) => ctx.repo.get(id) !== undefined,
    list: () => ctx.repo.all().map((r) => r.id),
    requireActive(id) {
      const r = mustRow(ctx, id);
      if (r.state !== 'ACTIVE') throw fail('workspace_not_active', `${id} is not ACTIVE yet (it is ${r.state}). Please retry once it becomes ACTIVE`);
      const jinad = storedJinad(r.arguments);
      const python = jinad.dockerfile ? undefined : needsPython(workdirOf(ctx, id), jinad.python);
      return { image: r.metadata.image_name!, imageId: r.metadata.image_id ?? '', network: r.metadata.network ?? '', resources: resourcesOf(jinad), constraints: jinad.constraints ?? [], python };
    },
    workdir: (id) => workdirOf(ctx, id),
    buildLog: (id) => buildLogOf(ctx, id),
    async receive(c, id) {
      const stage = randomUUID();
      const fields: Record<string, string> = {};
      const files = await receiveUploads(c, stagingDirOf(ctx, id, stage), ctx.api.config.limits, fields);
      return { stage, files, fields };
    },
    async stage(id, files) {
      const stage = randomUUID();
      const dir = stagingDirOf(ctx, id, stage);
      await mkdir(dir, { recursive: true });
      const staged: StagedFiles = { stage, files: [], fields: {} };
      try {
        for (const [name, from] of files) {
          const file = path.join(dir, String(staged.files.length));
          await copyFile(from, file);
          staged.files.push({ name, rel: safeRelative(name), file, size: 0 });
        }
      } catch (err) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
      return staged;
    },
    submit: (id, staged) => submit(ctx, id, staged.stage, staged.files),
    discard: (id, staged) => rm(stagingDirOf(ctx, id, staged.stage), { recursive: true, force: true }),
    async settled(id) {
      // The build job updates the row as it goes: wait for the condition, checked in memory.
      for (;;) {
        const r = ctx.repo.get(id);
        if (!r) return undefined;
        if (ctx.api.jobs.pending(id) === 0 && (r.state === 'ACTIVE' || r.state === 'FAILED')) return toItem(ctx, r);
        await new Promise((resolve) => setTimeout(resolve, 50).unref()); // never what keeps a closing daemon alive
      }
    },
    remove: (id) => deleteEverything(ctx, id),
    onDelete: (fn) => ctx.deleteHooks.push(fn),
    listManaged: (fn) => ctx.managed.push(fn),
  };
}
