/**
 * What a plugin is and what it is given. A plugin is a folder whose index.ts default-exports
 * `definePlugin({ name, prefix, dependsOn, setup })`; `setup(api)` registers routes on its own
 * router, job handlers and lifecycle steps, and shares services with the plugins that depend
 * on it through `provide`/`use` (typed by augmenting `Services`). Plugins never import each
 * other's files; they import the SDK (`jinad/plugin`, src/plugin/index.ts) only.
 */
import type { Context, Hono } from 'hono';
import type * as v from 'valibot';
import type { Backend } from '../backend/types.ts';
import type { JinadConfig } from '../config.ts';
import type { Resources } from '../contract/resources.ts';
import type { WorkspaceItem } from '../contract/workspace.ts';
import type { JobRunner } from '../jobs.ts';
import type { LogFiles } from '../logfiles.ts';
import type { Logger } from '../logger.ts';
import type { ReplicaLedger, StartSlots } from '../objects/ledger.ts';
import type { Metrics } from '../metrics/index.ts';
import type { ObjectService } from '../objects/kind.ts';
import type { LiveStates } from '../objects/live.ts';
import type { Store } from '../store/db.ts';

/** Files in a workspace's staging folder, checked by name, waiting to be submitted as an upload. */
export interface StagedFiles {
  stage: string;
  files: { name: string; rel: string; file: string; size: number }[];
  /** Text fields of the multipart request they came in (`receive`). */
  fields: Record<string, string>;
}

/** What the workspace plugin offers the plugins that run objects inside workspaces. */
export interface WorkspaceService {
  get(id: string): WorkspaceItem | undefined;
  /** Whether the workspace exists (cheap: for every log line, not only for requests). */
  has(id: string): boolean;
  /** Ids of every workspace. */
  list(): string[];
  /** The workspace's image and network, or 404; 400 unless it is ACTIVE. */
  /** The workspace's image and network, and the container limits its `.jinad` sets; rejects unless ACTIVE. */
  /** `python`: whether its image has Python (undefined: its own Dockerfile, not known). */
  requireActive(id: string): { image: string; imageId: string; network: string; resources: Resources; constraints: string[]; python?: boolean };
  /** The daemon-side work directory, mounted at `/workspace` in the workspace's objects. */
  workdir(id: string): string;
  /** The file of its build output (JSON lines), kept by the daemon outside the work directory. */
  buildLog(id: string): string;
  /** Stream a request's multipart `files` (and text fields) into a new staging folder of `id`, with the upload limits. */
  receive(c: Context, id: string): Promise<StagedFiles>;
  /** Copy files of this machine (workspace path → file) into a new staging folder of `id`. */
  stage(id: string, files: Map<string, string>): Promise<StagedFiles>;
  /** Submit staged files as an upload to `id` (made if new): checked, then built (unless nothing changed). */
  submit(id: string, staged: StagedFiles): Promise<void>;
  /** Forget staged files that will not be submitted. */
  discard(id: string, staged: StagedFiles): Promise<void>;
  /** Wait until the workspace has no build queued or running; its item then (undefined when it is gone). */
  settled(id: string): Promise<WorkspaceItem | undefined>;
  /** Delete the workspace with everything in it (its objects, through `onDelete`). */
  remove(id: string): Promise<void>;
  /** Called before a workspace is deleted with everything=true: remove your objects in it. */
  onDelete(fn: (id: string) => Promise<void>): void;
  /** Ids of the objects you manage in a workspace, for `metadata.managed_objects`. Synchronous: answer from memory. */
  listManaged(fn: (id: string) => string[]): void;
}

/** Where an id belongs, as the plugin that owns its kind answers. */
export interface KindOwner {
  /** The id's workspace (a workspace is its own), or undefined when there is no such id now. */
  workspaceOf(id: string): string | undefined;
}

/** Id kinds (`workspace`, `flow`, …) and the plugins that own them. */
export interface KindRegistry {
  /** Whether some plugin owns this kind of id. */
  has(kind: string): boolean;
  kinds(): string[];
  /** The kind and workspace of an id; undefined when no plugin knows it. */
  resolve(id: string): { kind: string; workspaceId: string } | undefined;
}

/** Services plugins offer each other. A plugin adds its entry with `declare module`. */
export interface Services {
  /** Offered by the workspace plugin. */
  workspaces: WorkspaceService;
  /** Offered by the core: replicas running per workspace and in all, for the limits. */
  replicas: ReplicaLedger;
  /** Offered by the core: every object's live state, kept from the backend's events. */
  live: LiveStates;
  /** Offered by the core: how many objects start at once, across kinds (`objectStartConcurrency`). */
  starts: StartSlots;
  /** Offered by the core: the daemon's Prometheus metrics (`GET /metrics`) and scrape targets (`GET /metrics/targets`). */
  metrics: Metrics;
  /** Offered by the core: the operations of every object kind (`flow` → create, get, scale, …), as its routes use them. */
  objects: Map<string, ObjectService>;
}

export interface PluginApi<Options = Record<string, unknown>> {
  readonly name: string;
  readonly config: JinadConfig;
  /** This plugin's config slice (`<name>: {...}` in jinad.config.ts, JINAD_<NAME>_<KEY>, --<name>-<key>), validated by its schema. */
  readonly options: Options;
  readonly store: Store;
  /** Where objects run: the only way to images, networks and objects. */
  readonly backend: Backend;
  readonly jobs: JobRunner;
  readonly log: Logger;
  /** Routes registered here are served under the plugin's prefix. */
  readonly router: Hono;
  /** Log files (JSON lines) and their followers: write build output and object logs here. */
  readonly logFiles: LogFiles;
  /** Where the daemon keeps its own files for a workspace (logs, build output): never inside the work directory. */
  daemonDir(workspaceId: string): string;
  readonly kinds: KindRegistry;
  /** Declare the plugin's id kind and how to find an id's workspace. */
  ownKind(kind: string, owner: KindOwner): void;
  provide<K extends keyof Services>(key: K, service: Services[K]): void;
  use<K extends keyof Services>(key: K): Services[K];
  /** Contribute keys to `GET /status`. */
  onStatus(fn: () => Promise<Record<string, unknown>>): void;
  /** Start what the plugin needs before the daemon serves (a listener, …); a failure stops start-up, naming the plugin. */
  onStart(fn: () => Promise<void>): void;
  /** Make the store and the backend agree; runs at start, after onStart, before jobs resume and before serving. */
  onReconcile(fn: () => Promise<void>): void;
  /** After the daemon listens. */
  onReady(fn: () => Promise<void>): void;
  /** Release resources; close steps run in reverse order of registration, after in-flight requests. */
  onClose(fn: () => Promise<void> | void): void;
}

export interface PluginDefinition<Options = Record<string, unknown>> {
  name: string;
  /** Path prefix of the plugin's routes, e.g. `/workspaces`. */
  prefix?: string;
  /** Plugins that must be set up first (their services are available in `setup`). */
  dependsOn?: string[];
  /** OpenAPI tag description. */
  description?: string;
  /**
   * The plugin's config slice: a valibot object of scalar options. Set in jinad.config.ts under
   * the plugin's name, by env `JINAD_<NAME>_<KEY>` (upper snake case) and by flag `--<name>-<key>`.
   */
  options?: v.ObjectSchema<v.ObjectEntries, undefined> | v.StrictObjectSchema<v.ObjectEntries, undefined>;
  setup(api: PluginApi<Options>): void | Promise<void>;
}

/**
 * Define a plugin. Example (a folder `my-plugin/index.ts`):
 *
 *   import { definePlugin } from 'jinad/plugin';
 *   export default definePlugin({
 *     name: 'hello',
 *     prefix: '/hello',
 *     dependsOn: ['workspace'],
 *     setup(api) {
 *       api.router.get('/', (c) => c.json({ workspaces: api.use('workspaces').list().length }));
 *     },
 *   });
 */
export function definePlugin<Options = Record<string, unknown>>(def: PluginDefinition<Options>): PluginDefinition<Options> {
  return def;
}
