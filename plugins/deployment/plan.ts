/**
 * A plan: what applying a deployment would change, compared with what the daemon runs. Objects
 * are compared by fingerprint: a definition hash (a change replaces the object), and each
 * executor's replicas and uses_with (a change is a scale or a rolling_update, no restart).
 * Workspace files are compared by content hash; a change in a build input (package.json, a
 * lockfile, requirements, .jinad, a Dockerfile) replaces the objects (a new image), any other
 * change is a rolling update of every executor (new code, no request fails).
 */
import { createHash } from 'node:crypto';
import YAML from 'yaml';
import { type Change, type DesiredDeployment, ENV_EXPR, type ObjectService, type Plan, type WorkspaceService } from 'jinad/plugin';
import type { DeploymentRow, MemberRecord } from './schema.ts';

export const KINDS = { flows: 'flow', pods: 'pod', peas: 'pea' } as const;
type Group = keyof typeof KINDS;

const BUILD_INPUT = /(^|\/)(\.jinad|package\.json|package-lock\.json|npm-shrinkwrap\.json|requirements[^/]*\.txt|[^/]*Dockerfile[^/]*)$/;
const hash = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 32);
/** A member's settings beside its definition: each is a create argument, and a change of one replaces the object. */
export const SETTINGS = ['restart', 'idle_timeout', 'memory', 'cpus', 'pids'] as const;

/** What a member is, as a plan compares it; `parts` say which part of the definition changed. */
export interface Fingerprint {
  def: string;
  parts: Record<string, string>;
  replicas: Record<string, number>;
  usesWith: Record<string, unknown>;
}

export function fingerprint(group: Group, name: string, member: Record<string, unknown>, desired: DesiredDeployment): Fingerprint {
  const envs = (member.envs ?? {}) as Record<string, string>;
  const parts: Record<string, string> = Object.fromEntries(Object.entries(envs).map(([k, val]) => [`env ${k}`, hash(val)]));
  for (const key of SETTINGS) if (member[key] !== undefined && member[key] !== null) parts[key] = hash(member[key]);
  const replicas: Record<string, number> = {};
  const usesWith: Record<string, unknown> = {};
  if (group === 'flows') {
    // The Flow's YAML as the object will see it (its envs substituted), executors' replicas and uses_with aside.
    const source = desired.sources[member.file as string] ?? '';
    let doc: Record<string, unknown> = {};
    try {
      doc = (YAML.parse(source.replace(ENV_EXPR, (ref, k: string) => envs[k] ?? ref), { maxAliasCount: 100 }) ?? {}) as Record<string, unknown>;
    } catch {
      doc = { unparsed: source }; // the apply reports the error, with the runtime's words
    }
    const executors = Array.isArray(doc.executors) ? (doc.executors as Record<string, unknown>[]) : [];
    const rest = executors.map((e, i) => {
      const { replicas: r, parallel, uses_with, ...other } = e ?? {};
      const exec = String(e?.name ?? `executor${i}`);
      replicas[exec] = Number(r ?? parallel ?? 1);
      usesWith[exec] = uses_with ?? {};
      return other;
    });
    parts.definition = hash({ file: member.file, doc: { ...doc, executors: rest } });
  } else {
    const { replicas: r, uses_with, envs: _, ...args } = member;
    for (const key of SETTINGS) delete args[key];
    if (group === 'pods') {
      replicas[name] = Number(r ?? 1);
      usesWith[name] = uses_with ?? {};
      parts.definition = hash(args);
    } else {
      parts.definition = hash({ ...args, uses_with });
    }
  }
  return { def: hash(parts), parts, replicas, usesWith };
}

const diffKeys = (a: Record<string, unknown>, b: Record<string, unknown>) =>
  [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();

/** One step of an apply, as the plan decided it. */
export interface Step {
  change: Change;
  group?: Group;
  name?: string;
  member?: Record<string, unknown>;
  record?: MemberRecord;
  fp?: Fingerprint;
  /** update: the executors to scale and to roll (new uses_with, or new code). */
  scale?: string[];
  roll?: string[];
}

export interface Planned {
  plan: Plan;
  steps: Step[];
}

interface Deps {
  workspaces: WorkspaceService;
  objects: Map<string, ObjectService>;
}

/** Whether the object made for a member still exists, and its live status. */
async function actual(deps: Deps, rec: MemberRecord): Promise<string> {
  try {
    return (await deps.objects.get(rec.kind)!.get(rec.id)).metadata.status;
  } catch {
    return 'deleted';
  }
}

export async function planDeployment(deps: Deps, name: string, desired: DesiredDeployment, row: DeploymentRow | undefined, prune: boolean): Promise<Planned> {
  const steps: Step[] = [];
  const applied = row?.files ?? {};
  const ws = row && deps.workspaces.get(row.workspaceId);
  const changed = Object.keys(desired.files).filter((f) => applied[f] !== desired.files[f]);
  const removed = Object.keys(applied).filter((f) => !(f in desired.files));
  let upload = changed;
  const wsChange: Change = { target: 'workspace', action: 'unchanged', details: [] };
  if (!ws) {
    wsChange.action = 'create';
    wsChange.details.push(`${Object.keys(desired.files).length} files`);
    upload = Object.keys(desired.files);
  } else if (ws.state === 'FAILED' && changed.length === 0) {
    wsChange.action = 'update';
    wsChange.details.push(`its last build failed (${ws.reason ?? 'no reason'}): build again`);
    upload = Object.keys(desired.files);
  } else if (changed.length || removed.length) {
    wsChange.action = changed.length ? 'update' : 'unchanged';
    const added = changed.filter((f) => !(f in applied));
    const modified = changed.filter((f) => f in applied);
    if (modified.length) wsChange.details.push(`changed: ${modified.join(', ')}`);
    if (added.length) wsChange.details.push(`added: ${added.join(', ')}`);
    if (removed.length) wsChange.details.push(`no longer declared (kept in the workspace): ${removed.join(', ')}`);
  }
  steps.push({ change: wsChange });
  const newImage = !ws || changed.some((f) => BUILD_INPUT.test(f));
  const newCode = changed.length > 0;

  const declared = new Set<string>();
  for (const group of Object.keys(KINDS) as Group[]) {
    for (const [member, spec] of Object.entries(desired[group] as Record<string, Record<string, unknown>>)) {
      const target = `${group}.${member}`;
      declared.add(target);
      const fp = fingerprint(group, member, spec, desired);
      const rec = row?.members[target];
      const step: Step = { change: { target, action: 'unchanged', details: [] }, group, name: member, member: spec, record: rec, fp };
      steps.push(step);
      const details = step.change.details;
      const status = rec ? await actual(deps, rec) : undefined;
      if (!rec || status === 'deleted') {
        step.change.action = 'create';
        if (rec) details.push(`drifted: ${rec.id} was deleted`);
        continue;
      }
      const differs = diffKeys(rec.parts ?? {}, fp.parts);
      if (status === 'missing') details.push(`drifted: the container of ${rec.id} is gone`);
      if (differs.length) details.push(`${differs.join(', ')} changed`);
      if (ws && newImage) details.push('a build input changed: a new image');
      if (status === 'missing' || differs.length || (ws && newImage)) {
        step.change.action = 'replace';
        continue;
      }
      step.scale = diffKeys(rec.replicas, fp.replicas).filter((e) => e in fp.replicas);
      step.roll = diffKeys(rec.usesWith, fp.usesWith).filter((e) => e in fp.usesWith);
      if (newCode) step.roll = Object.keys(fp.replicas);
      if (group === 'peas' && (step.scale.length || step.roll.length)) {
        step.change.action = 'replace';
        details.push(newCode ? 'the workspace code changed' : 'uses_with changed (a Pea is not updated in place)');
        continue;
      }
      for (const e of step.scale) details.push(`scale ${e}: ${rec.replicas[e] ?? '?'} → ${fp.replicas[e]}`);
      for (const e of step.roll) details.push(`rolling_update ${e}${newCode ? ' (new code)' : ' (uses_with changed)'}`);
      if (details.length) step.change.action = 'update';
    }
  }
  for (const [target, rec] of Object.entries(row?.members ?? {})) {
    if (declared.has(target)) continue;
    steps.push({ change: { target, action: prune ? 'delete' : 'orphan', details: [prune ? `${rec.id}` : `${rec.id} is no longer declared; apply --prune deletes it`] }, record: rec });
  }
  const pending = steps.some((s) => !['unchanged', 'orphan'].includes(s.change.action));
  return { plan: { name, workspace_id: row?.workspaceId ?? null, changes: steps.map((s) => s.change), pending, upload: wsChange.action === 'unchanged' ? [] : upload }, steps };
}
