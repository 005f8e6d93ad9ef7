/**
 * Deployments as the routes and the start-up use them: plan, apply (one at a time per
 * deployment), show each member's desired and actual state, delete. Rows are kept in memory
 * and written through.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { eq } from 'drizzle-orm';
import type { Context } from 'hono';
import { type DesiredDeployment, fail, invalid, newId, type ObjectService, type PluginApi, type StagedFiles, type WorkspaceService } from 'jinad/plugin';
import { applyPlan, destroyDeployment, type Progress } from './apply.ts';
import { planDeployment, type Planned } from './plan.ts';
import { type DeploymentRow, deployments } from './schema.ts';

export type FilesSource = { kind: 'staged'; staged: StagedFiles } | { kind: 'paths'; paths: Map<string, string> };

const digest = async (file: string) => {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
};

export async function deploymentService(api: PluginApi) {
  const workspaces: WorkspaceService = api.use('workspaces');
  const objects: Map<string, ObjectService> = api.use('objects');
  const rows = new Map<string, DeploymentRow>();
  for (const r of await api.store.db.select().from(deployments)) rows.set(r.name, r);
  const busy = new Set<string>();
  /** When each deployment was last compared with what runs (a plan or an apply), since this start. */
  const checked = new Map<string, string>();

  const save = async (row: DeploymentRow) => {
    await api.store.db.insert(deployments).values(row).onConflictDoUpdate({ target: deployments.name, set: { ...row } });
    rows.set(row.name, row);
  };
  const mustRow = (name: string) => {
    const r = rows.get(name);
    if (!r) throw fail('deployment_not_found', `deployment '${name}' not found`);
    return r;
  };
  const plan = (name: string, desired: DesiredDeployment, prune: boolean) => {
    // A Flow's text is compared in the plan: it must be the file the hashes name.
    for (const [file, text] of Object.entries(desired.sources)) {
      if (createHash('sha256').update(text).digest('hex') !== desired.files[file]) throw invalid(`sources.${file}: not the content of the workspace file ${file} (its hash differs)`);
    }
    return planDeployment({ workspaces, objects }, name, desired, rows.get(name), prune);
  };

  /** The files the plan needs, staged: taken from a request (checked against their hashes) or copied from this machine. */
  async function stageNeeded(name: string, workspaceId: string, planned: Planned, desired: DesiredDeployment, from: FilesSource): Promise<StagedFiles | undefined> {
    const needed = new Set(planned.plan.upload);
    if (from.kind === 'paths') {
      if (!needed.size) return undefined;
      return workspaces.stage(workspaceId, new Map([...needed].map((rel) => [rel, from.paths.get(rel)!])));
    }
    const staged = from.staged;
    const files = staged.files.filter((f) => needed.has(f.rel));
    const have = new Set<string>();
    for (const f of files) {
      if ((await digest(f.file)) !== desired.files[f.rel]) {
        await workspaces.discard(workspaceId, staged);
        throw fail('deployment_files_missing', `${f.rel}: its content does not match the hash in the deployment`);
      }
      have.add(f.rel);
    }
    const missing = [...needed].filter((rel) => !have.has(rel));
    if (missing.length) {
      await workspaces.discard(workspaceId, staged);
      throw fail('deployment_files_missing', `deployment '${name}' needs these files uploaded (new or changed): ${missing.join(', ')}`, missing);
    }
    if (!needed.size) {
      await workspaces.discard(workspaceId, staged);
      return undefined;
    }
    return { ...staged, files };
  }

  return {
    rows,
    plan,
    receive: (c: Context, workspaceId: string) => workspaces.receive(c, workspaceId),
    discard: (workspaceId: string, staged: StagedFiles) => workspaces.discard(workspaceId, staged),
    /** A new deployment's workspace id is chosen before its files are received. */
    workspaceIdOf: (name: string) => rows.get(name)?.workspaceId ?? newId('workspace'),
    async apply(name: string, workspaceId: string, desired: DesiredDeployment, prune: boolean, source: string, from: FilesSource, progress: (p: Progress) => void = () => {}) {
      if (busy.has(name)) {
        if (from.kind === 'staged') await workspaces.discard(workspaceId, from.staged);
        throw fail('deployment_busy', `deployment '${name}' is being applied or deleted; try again when that ends`);
      }
      busy.add(name);
      try {
        const planned = await plan(name, desired, prune);
        planned.plan.workspace_id = workspaceId;
        const staged = await stageNeeded(name, workspaceId, planned, desired, from);
        const row = rows.get(name);
        checked.set(name, new Date().toISOString());
        if (row && !planned.plan.pending && !row.lastError) return planned.plan; // up to date: not even a write
        await applyPlan({ workspaces, objects, save }, name, workspaceId, desired, planned, row, source, staged, progress);
        return planned.plan;
      } finally {
        busy.delete(name);
      }
    },
    /** What the deployment declared and what runs: each member's object, live status, restarts, drift. */
    async detail(name: string) {
      const r = mustRow(name);
      const ws = workspaces.get(r.workspaceId);
      const members: Record<string, unknown> = {};
      for (const [target, rec] of Object.entries(r.members)) {
        let item: Awaited<ReturnType<ObjectService['get']>> | undefined;
        try {
          item = await objects.get(rec.kind)!.get(rec.id);
        } catch {
          item = undefined;
        }
        const status = item?.metadata.status ?? 'deleted';
        members[target] = {
          kind: rec.kind,
          id: rec.id,
          desired: 'running',
          actual: status,
          // Restarting by its policy, or asleep by its idle timeout (and waking), is as declared.
          drifted: !['running', 'restarting', 'idle', 'waking'].includes(status),
          replicas: rec.replicas,
          restart: item?.metadata.restart ?? null,
          restarts: item?.metadata.restarts ?? 0,
          last_exit: item?.metadata.last_exit ?? null,
        };
      }
      return {
        name,
        source: r.source,
        workspace_id: r.workspaceId,
        workspace: ws ? { state: ws.state, reason: ws.reason } : { state: 'deleted', reason: null },
        files: Object.keys(r.files).length,
        members,
        drifted: !ws || Object.values(members).some((m) => (m as { drifted: boolean }).drifted),
        last_error: r.lastError,
        last_checked: checked.get(name) ?? null,
        time_created: r.timeCreated,
        time_updated: r.timeUpdated,
      };
    },
    async remove(name: string) {
      const r = mustRow(name);
      if (busy.has(name)) throw fail('deployment_busy', `deployment '${name}' is being applied; try again when that ends`);
      busy.add(name);
      try {
        await destroyDeployment({ workspaces, objects }, r);
        await api.store.db.delete(deployments).where(eq(deployments.name, name));
        rows.delete(name);
      } finally {
        busy.delete(name);
      }
    },
  };
}
export type DeploymentService = Awaited<ReturnType<typeof deploymentService>>;
