/**
 * Wire shapes of the workspace routes, as valibot schemas: they validate requests, generate
 * /openapi.json, and give the TypeScript types. Field names follow JinaD 2.0 (snake_case).
 */
import * as v from 'valibot';
import { idOf, storeStatus } from './common.ts';

export const WORKSPACE_STATES = ['PENDING', 'CREATING', 'UPDATING', 'ACTIVE', 'FAILED', 'DELETING'] as const;
export type WorkspaceState = (typeof WORKSPACE_STATES)[number];

/** A workspace id: `jworkspace-<uuid>` or a bare uuid; validated output is the normalised id. */
export const WorkspaceId = idOf('workspace');

const Bool = v.optional(v.picklist(['true', 'false', 'True', 'False', '1', '0']));
export const asBool = (s: string | undefined, dflt: boolean) => (s === undefined ? dflt : ['true', 'True', '1'].includes(s));

export const IdParam = v.object({ id: WorkspaceId });
export const CreateQuery = v.object({ id: v.optional(WorkspaceId) });
export const DeleteQuery = v.object({
  container: v.pipe(Bool, v.description('remove the `run` container (default true)')),
  network: v.pipe(Bool, v.description('remove the network when nothing is attached (default true)')),
  files: v.pipe(Bool, v.description('remove uploaded files, keeping logs (default true)')),
  everything: v.pipe(Bool, v.description('remove flows/pods/peas, containers, network, image, files and the entry (default false)')),
});

export const WorkspaceItem = v.object({
  time_created: v.string(),
  time_updated: v.string(),
  state: v.picklist(WORKSPACE_STATES),
  reason: v.nullable(v.pipe(v.string(), v.description('why the workspace is FAILED'))),
  log_tail: v.pipe(v.array(v.string()), v.description('last lines of a failed build')),
  queued: v.pipe(v.number(), v.description('uploads queued or building for this workspace')),
  /** null until the workspace's image exists, as in JinaD 2.0. */
  metadata: v.nullable(
    v.object({
      image_id: v.nullable(v.string()),
      image_name: v.nullable(v.string()),
      network: v.nullable(v.string()),
      workdir: v.string(),
      container_id: v.nullable(v.string()),
      container_status: v.pipe(v.nullable(v.string()), v.description('live state of the `run` container: running, exited, … (null without one)')),
      container_exit_code: v.pipe(v.nullable(v.number()), v.description('its exit code once it stopped')),
      container_oom_killed: v.pipe(v.nullable(v.boolean()), v.description('it was killed for going over its memory limit')),
      ports: v.array(v.number()),
      managed_objects: v.array(v.string()),
    }),
  ),
  arguments: v.nullable(
    v.object({
      files: v.array(v.string()),
      jinad: v.pipe(v.record(v.string(), v.string()), v.description('the .jinad keys given, each as written')),
      jinad_parsed: v.optional(v.pipe(v.record(v.string(), v.unknown()), v.description('the same, parsed'))),
      requirements: v.string(),
    }),
  ),
});
export type WorkspaceItem = v.InferOutput<typeof WorkspaceItem>;

export const WorkspaceStoreStatus = v.object({
  ...storeStatus(WorkspaceItem).entries,
  ip_range_start: v.pipe(v.string(), v.description("the first address of the workspace networks' pool")),
  subnet_size: v.pipe(v.number(), v.description("each workspace network's prefix length")),
  ip_range_current_offset: v.pipe(v.number(), v.description('addresses of the pool the workspace networks hold')),
});

