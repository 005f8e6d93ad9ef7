/**
 * What every part of the workspace plugin shares: the plugin api, the rows, the hooks other
 * plugins registered, and where a workspace's things are. The work directory (`<root>/<id>`)
 * is mounted read-write into the workspace's containers, so the daemon's own files for it
 * (build log, object logs) are kept elsewhere (`api.daemonDir`), and staged uploads under
 * `<root>/.staging/<id>`.
 */
import path from 'node:path';
import { fail, type PluginApi } from 'jinad/plugin';
import type { WorkspaceRepo } from './repo.ts';

export const BUILD_JOB = 'workspace.build';
export const KIND = 'workspace';

export interface WorkspaceCtx {
  api: PluginApi;
  repo: WorkspaceRepo;
  /** Called before a workspace is deleted with everything=true. */
  deleteHooks: ((id: string) => Promise<void>)[];
  /** Ids of objects other plugins manage in a workspace. */
  managed: ((id: string) => string[])[];
  /** Deletions under way: a second DELETE of the same workspace waits for the first. */
  deleting: Map<string, Promise<void>>;
}

export const workdirOf = (ctx: WorkspaceCtx, id: string) => path.join(ctx.api.config.root, id);
export const stagingDirOf = (ctx: WorkspaceCtx, id: string, stage = '') => path.join(ctx.api.config.root, '.staging', id, stage);
export const buildLogOf = (ctx: WorkspaceCtx, id: string) => path.join(ctx.api.daemonDir(id), 'logging.log');
/** The image of a workspace: `jworkspace:<uuid>`. */
export const imageTagOf = (id: string) => `jworkspace:${id.slice(id.indexOf('-') + 1)}`;
export const short = (id: string | null | undefined) => (id ? id.replace(/^sha256:/, '').slice(0, 10) : null);

export function mustRow(ctx: WorkspaceCtx, id: string) {
  const r = ctx.repo.get(id);
  if (!r) throw fail('workspace_not_found', `${id} not found in workspace store`);
  return r;
}
