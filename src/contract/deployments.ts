/**
 * Deployments: a file declares workspaces and the Flows, Pods and Peas to run in them, and the
 * daemon makes it so (plan, apply, prune) and keeps it so (restart policies). One schema
 * validates `jinad.deploy.yml` and the `deployments` of `jinad.config.ts`, and is published as a
 * JSON Schema for editors (GET /deployments/schema.json, docs/jinad.deploy.schema.json).
 *
 * On the wire (`POST /deployments/plan`, `PUT /deployments/{name}`) a deployment travels
 * resolved (`DesiredDeployment`): its workspace as file hashes (the files themselves go only
 * when the daemon lacks them), each Flow's YAML text, env references substituted.
 */
import * as v from 'valibot';
import { PodArguments } from './objects.ts';
import { ResourceFields } from './resources.ts';
import { IdleTimeoutField } from './idle.ts';
import { RestartField } from './restart.ts';

export const DEPLOYMENT_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const Name = v.pipe(v.string(), v.regex(DEPLOYMENT_NAME, 'names are lower-case letters, digits, - and _ (at most 63)'));
const EnvMap = v.record(v.string(), v.union([v.string(), v.number(), v.boolean()], 'env values are strings (or numbers)'));
const Common = {
  envs: v.optional(v.pipe(EnvMap, v.description('environment of the object; values may reference the environment: ${{ ENV.X }}'))),
  restart: RestartField,
  idle_timeout: IdleTimeoutField,
  ...ResourceFields,
};

export const FlowMember = v.strictObject({
  file: v.pipe(v.string(), v.minLength(1), v.description('the Flow YAML, relative to the workspace')),
  ...Common,
});
export const PodMember = v.looseObject({ ...PodArguments.entries, ...Common });

export const Deployment = v.strictObject({
  workspace: v.pipe(
    v.union([v.pipe(v.string(), v.minLength(1)), v.pipe(v.array(v.pipe(v.string(), v.minLength(1))), v.minLength(1))], 'a folder, or a list of files'),
    v.description('a folder (relative to the file), or a list of files; they become the workspace'),
  ),
  flows: v.optional(v.record(Name, FlowMember)),
  pods: v.optional(v.record(Name, PodMember)),
  peas: v.optional(v.record(Name, PodMember)),
});
export type Deployment = v.InferOutput<typeof Deployment>;

export const DeploymentsFile = v.strictObject({ deployments: v.record(Name, Deployment) });

/** A deployment as the daemon takes it: files by content hash, Flow YAML texts, envs resolved. */
export const DesiredDeployment = v.strictObject({
  /** Workspace path → SHA-256 (hex) of its content. */
  files: v.pipe(v.record(v.string(), v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, 'expected a SHA-256 in hex'))), v.check((f) => Object.keys(f).length > 0, 'the workspace has no files')),
  /** Flow YAML path → its text (so a plan can compare definitions before any file is uploaded). */
  sources: v.optional(v.record(v.string(), v.string()), {}),
  flows: v.optional(v.record(Name, v.strictObject({ ...FlowMember.entries, envs: v.optional(v.record(v.string(), v.string())) })), {}),
  pods: v.optional(v.record(Name, PodMember), {}),
  peas: v.optional(v.record(Name, PodMember), {}),
});
export type DesiredDeployment = v.InferOutput<typeof DesiredDeployment>;

export const PlanRequest = v.strictObject({ name: Name, deployment: DesiredDeployment, prune: v.optional(v.boolean(), false) });
export const DeploymentNameParam = v.object({ name: Name });

export type ChangeAction = 'create' | 'update' | 'replace' | 'delete' | 'unchanged' | 'orphan';
export interface Change {
  /** `workspace`, or `flows.web`, `pods.enc`, … */
  target: string;
  action: ChangeAction;
  /** What differs, in words (never an env value). */
  details: string[];
}
export interface Plan {
  name: string;
  workspace_id: string | null;
  changes: Change[];
  /** Whether applying would change anything. */
  pending: boolean;
  /** Files the daemon needs in `PUT /deployments/{name}` (new or changed). */
  upload: string[];
}

/** One step of an apply, as it happens (`PUT /deployments/{name}` with `Accept: application/x-ndjson`). */
export interface DeploymentProgress {
  target: string;
  action: string;
  status: 'started' | 'done' | 'failed';
  message?: string;
  id?: string;
}

/** `GET /deployments/{name}`: what was declared and what runs. */
export interface DeploymentDetail {
  name: string;
  source: string;
  workspace_id: string;
  workspace: { state: string; reason: string | null };
  files: number;
  members: Record<string, { kind: string; id: string; desired: string; actual: string; drifted: boolean; replicas: Record<string, number>; restart: string | null; restarts: number; last_exit: unknown }>;
  drifted: boolean;
  last_error: string | null;
  /** When an apply last compared it with what runs, since the daemon started (null: not yet). */
  last_checked: string | null;
  time_created: string;
  time_updated: string;
}
