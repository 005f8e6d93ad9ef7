/**
 * The workspace plugin: uploads, image builds, the workspace network and `run` container.
 * Offers the `workspaces` service to plugins that run objects inside workspaces.
 */
import { definePlugin } from '../../src/plugins.ts';
import { openWorkspaceRepo } from './repo.ts';
import { workspaceRoutes } from './routes.ts';
import { BUILD_JOB, createWorkspaceService, type WorkspaceService } from './service.ts';

declare module '../../src/plugins.ts' {
  interface Services {
    workspaces: WorkspaceService;
  }
}

export default definePlugin({
  name: 'workspace',
  prefix: '/workspaces',
  description: 'Uploaded files, the Docker image built from them, and a private network',
  async setup(api) {
    const svc = createWorkspaceService(api, await openWorkspaceRepo(api.store));
    api.jobs.define(BUILD_JOB, svc.build);
    api.provide('workspaces', svc.service);
    api.onReconcile(svc.reconcile);
    api.onStatus(async () => ({ workspaces: await svc.statusCounts() }));
    workspaceRoutes(api.router, svc, api.config.limits);
  },
});
