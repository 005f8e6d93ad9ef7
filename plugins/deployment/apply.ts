/**
 * Carrying a plan out, step by step, recording each step as it lands: an apply that fails
 * midway leaves the row saying what was done, and a re-run converges. The workspace first
 * (only changed files are uploaded; the build is awaited), then each member: create, replace
 * (the old object goes first, so a fixed port is free), scale / rolling_update in place, and
 * with prune the objects this deployment made that the file no longer declares.
 */
import { type DeploymentProgress, fail, type DesiredDeployment, type ObjectService, type StagedFiles, type WorkspaceService } from 'jinad/plugin';
import { KINDS, type Planned, SETTINGS, type Step } from './plan.ts';
import type { DeploymentRow, MemberRecord } from './schema.ts';

export type Progress = DeploymentProgress;

export interface ApplyDeps {
  workspaces: WorkspaceService;
  objects: Map<string, ObjectService>;
  /** Keep the row as it is now (after every step). */
  save(row: DeploymentRow): Promise<void>;
}

/** The create request of a member: a Flow's file and envs, a Pod's or Pea's arguments; limits and policy as query fields. */
function createInput(workspaceId: string, step: Step) {
  const m = step.member!;
  const query: Record<string, unknown> = {};
  for (const key of SETTINGS) if (m[key] !== undefined && m[key] !== null) query[key] = m[key];
  const envs = (m.envs ?? {}) as Record<string, string>;
  if (step.group === 'flows') return { workspaceId, envs, query: { ...query, filename: m.file } };
  const { envs: _, restart: __, idle_timeout: ___, ...body } = m;
  return { workspaceId, envs, query, body };
}

/**
 * Apply `planned` to the deployment `row` (a new one, with `workspaceId`, when undefined). `staged`: the files the
 * plan asked for, already in a staging folder of the workspace (taken over: submitted or discarded).
 */
export async function applyPlan(deps: ApplyDeps, name: string, workspaceId: string, desired: DesiredDeployment, planned: Planned, row: DeploymentRow | undefined, source: string, staged: StagedFiles | undefined, progress: (p: Progress) => void): Promise<DeploymentRow> {
  const now = new Date().toISOString();
  const state: DeploymentRow = row
    ? { ...row, members: { ...row.members }, lastError: null }
    : { name, workspaceId, files: {}, members: {}, source, lastError: null, timeCreated: now, timeUpdated: now };
  const record = async () => {
    state.timeUpdated = new Date().toISOString();
    await deps.save({ ...state, members: { ...state.members } });
  };
  let current: Step | undefined;
  try {
    const [wsStep, ...memberSteps] = planned.steps;
    current = wsStep;
    if (wsStep!.change.action !== 'unchanged') {
      progress({ target: 'workspace', action: wsStep!.change.action, status: 'started', id: state.workspaceId });
      if (!staged) throw fail('invalid_definition', 'the workspace needs files, and none were given');
      await record(); // the workspace id is known before it exists: a re-run finds it
      await deps.workspaces.submit(state.workspaceId, staged);
      staged = undefined;
      const item = await deps.workspaces.settled(state.workspaceId);
      if (!item) throw fail('workspace_not_found', `${state.workspaceId} was deleted during the apply`);
      if (item.state === 'FAILED') throw fail('workspace_build_failed', `the workspace did not build: ${item.reason ?? 'no reason'}`, item.log_tail);
      progress({ target: 'workspace', action: wsStep!.change.action, status: 'done', id: state.workspaceId });
    } else if (staged) {
      await deps.workspaces.discard(state.workspaceId, staged);
      staged = undefined;
    }
    state.files = { ...desired.files };
    await record();

    for (const step of memberSteps) {
      current = step;
      const { target, action } = step.change;
      if (action === 'unchanged' || action === 'orphan') continue;
      const rec = step.record;
      progress({ target, action, status: 'started', id: rec?.id });
      if (action === 'delete') {
        await removeQuietly(deps, rec!);
        delete state.members[target];
      } else {
        const svc = deps.objects.get(KINDS[step.group!])!;
        const fp = step.fp!;
        if (action === 'update') {
          for (const e of step.scale ?? []) await svc.scale(rec!.id, fp.replicas[e]!, step.group === 'flows' ? e : undefined);
          for (const e of step.roll ?? []) await svc.rollingUpdate(rec!.id, fp.usesWith[e] as Record<string, unknown>, step.group === 'flows' ? e : undefined);
          state.members[target] = { ...rec!, def: fp.def, parts: fp.parts, replicas: fp.replicas, usesWith: fp.usesWith };
        } else {
          if (action === 'replace' && rec) {
            await removeQuietly(deps, rec);
            delete state.members[target];
            await record();
          }
          const id = await svc.create(createInput(state.workspaceId, step));
          state.members[target] = { kind: KINDS[step.group!], id, def: fp.def, parts: fp.parts, replicas: fp.replicas, usesWith: fp.usesWith } satisfies MemberRecord;
        }
      }
      await record();
      progress({ target, action, status: 'done', id: state.members[target]?.id ?? rec?.id });
    }
    return state;
  } catch (err) {
    if (staged) await deps.workspaces.discard(state.workspaceId, staged).catch(() => {});
    const message = (err as Error).message;
    state.lastError = current ? `${current.change.target}: ${message}` : message;
    await record().catch(() => {});
    progress({ target: current?.change.target ?? name, action: current?.change.action ?? 'apply', status: 'failed', message });
    throw err;
  }
}

/** Delete a member's object; one already gone is fine. */
async function removeQuietly(deps: Pick<ApplyDeps, 'objects'>, rec: MemberRecord): Promise<void> {
  try {
    await deps.objects.get(rec.kind)!.remove(rec.id);
  } catch (err) {
    if ((err as { code?: string }).code !== 'object_not_found') throw err;
  }
}

/** Delete everything a deployment made: its objects, then its workspace. */
export async function destroyDeployment(deps: Pick<ApplyDeps, 'objects' | 'workspaces'>, row: DeploymentRow): Promise<void> {
  for (const rec of Object.values(row.members)) await removeQuietly(deps, rec);
  if (deps.workspaces.has(row.workspaceId)) await deps.workspaces.remove(row.workspaceId);
}
