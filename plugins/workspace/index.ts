/**
 * The workspace plugin: uploads, image builds, the workspace network and `run` object.
 * Offers the `workspaces` service to plugins that run objects inside workspaces.
 */
import { definePlugin } from 'jinad/plugin';
import { build } from './build.ts';
import { BUILD_JOB, type WorkspaceCtx } from './context.ts';
import { reconcile, reviveRuns } from './reconcile.ts';
import { openWorkspaceRepo } from './repo.ts';
import { workspaceRoutes } from './routes.ts';
import { statusCounts, workspaceService } from './service.ts';
import type { BuildPayload } from './upload.ts';

export default definePlugin({
  name: 'workspace',
  prefix: '/workspaces',
  description: 'Uploaded files, the image built from them, and a private network',
  async setup(api) {
    const ctx: WorkspaceCtx = { api, repo: await openWorkspaceRepo(api.store), deleteHooks: [], managed: [], deleting: new Map() };
    api.jobs.define<BuildPayload>(BUILD_JOB, (payload, job) => build(ctx, payload, job));
    api.provide('workspaces', workspaceService(ctx));
    api.ownKind('workspace', { workspaceOf: (id) => (ctx.repo.get(id) ? id : undefined) });
    api.onReconcile(() => reconcile(ctx));
    api.use('live').onReconnect(() => reviveRuns(ctx));
    api.onStatus(async () => ({ workspaces: await statusCounts(ctx) }));
    const metrics = api.use('metrics');
    metrics.gauge('jinad_workspaces', 'Workspaces, by state', ['state'], (g) => {
      g.reset();
      for (const r of ctx.repo.all()) g.inc({ state: r.state });
    });
    metrics.gauge('jinad_workspace_uploads_queued', 'Uploads waiting for their workspace build', [], (g) => g.set(ctx.repo.all().reduce((n, r) => n + api.jobs.pending(r.id), 0)));
    workspaceRoutes(api.router, ctx);
  },
});
