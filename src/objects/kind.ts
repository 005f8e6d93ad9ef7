/**
 * What an object kind is and what the lifecycle is given, as types only: what a kind declares
 * (ObjectKindSpec, PreparedObject), what its routes use (ObjectService), and the narrow
 * interfaces through which the policies over the lifecycle take part in it (Idler for scale to
 * zero, StartHooks for warm spares and spread replicas). Nothing in src/objects imports back
 * into this file's importers: the lifecycle (lifecycle.ts) sits under the policies (idle.ts,
 * spares.ts, spread.ts, keeper.ts), and define.ts composes them for a kind.
 */
import type * as v from 'valibot';
import type { ObjectState, PortRequest } from '../backend/types.ts';
import type { ObjectItem } from '../contract/objects.ts';
import type { ObjectRow, StartSpec } from './schema.ts';

export interface CreateInput {
  workspaceId: string;
  envs: Record<string, string>;
  /** The validated query, beside workspace_id and envs. */
  query: Record<string, unknown>;
  /** The validated JSON body, for kinds that take one. */
  body?: Record<string, unknown>;
}

export interface PreparedObject {
  /** Ports to publish beside the partial daemon's. */
  ports: PortRequest[];
  /** The body of the partial daemon's `POST /<mode>`. */
  partialBody: Record<string, unknown>;
  /** What to keep of the request in the item's `arguments` (a Flow's `filename`, a Pod's `args`). */
  record: Record<string, unknown>;
  /** Replicas of each executor it runs (name → count): checked against the limits, and kept. */
  replicas: Record<string, number>;
  /** The idle timeout its definition gives (a Flow YAML's `with: idle_timeout`), below a create argument's. */
  idleTimeout?: number;
  /** Why its ports cannot be held by the daemon while it sleeps (a gRPC gateway: the idle front speaks HTTP/1.1 and WebSocket); it then never idles. */
  notIdle?: string;
  /** `false`: its ports serve no Prometheus metrics although its kind's do (a gRPC gateway). */
  scrape?: false;
}

export interface ObjectKindSpec {
  /** `flow` → routes `/flows`, ids `jflow-<uuid>`. Lower-case letters and digits. */
  kind: string;
  description: string;
  /** The runtime mode of the partial daemon in the object (default: the kind). */
  mode?: 'flow' | 'pod' | 'pea';
  create: {
    summary: string;
    /** Query fields beside `workspace_id` and `envs`. */
    query?: v.ObjectEntries;
    /** The JSON body, for kinds created from arguments. */
    body?: v.GenericSchema<unknown, Record<string, unknown>>;
  };
  /** What `GET /<kind>s/arguments` describes. */
  arguments: v.GenericSchema;
  /** Its published ports (but the partial daemon's) serve Prometheus metrics at /metrics: listed at GET /metrics/targets. */
  scrape?: boolean;
  /** `scale` and `rolling_update`, if the kind allows them; `podName: 'required'` when the kind holds several executors. */
  updates?: { podName: 'required' | 'optional' };
  /**
   * Turn a validated request into what runs. `env` is the object's environment (the request's
   * envs and JinaD's own): definitions are checked against it, never the daemon's. Throw the
   * runtime's DefinitionError (bad definition, 400) or a DaemonError (e.g. `file_not_found`).
   */
  prepare(input: CreateInput, ctx: { workdir: string; env: Record<string, string>; python?: boolean }): PreparedObject;
}

/** The operations of one kind, as its routes use them. */
export interface ObjectService {
  /** Throws (404, or 400 not ACTIVE) unless objects can be made in this workspace: asked before a create's body is read. */
  checkWorkspace(workspaceId: string): void;
  create(input: CreateInput): Promise<string>;
  get(id: string): Promise<ObjectItem>;
  list(): Promise<{ time_created: string; time_updated: string; num_add: number; num_del: number; items: Record<string, ObjectItem> }>;
  remove(id: string): Promise<void>;
  clear(): Promise<void>;
  scale(id: string, replicas: number, podName?: string): Promise<string>;
  rollingUpdate(id: string, usesWith: Record<string, unknown>, podName?: string): Promise<string>;
}

export type Phase = 'running' | 'stopping' | 'idle' | 'waking' | 'failed';

export interface Idler {
  /**
   * Hold a new object's front ports (fixed ones on their number, else free ones) before it
   * starts: requests wait until `settle(true)` (it runs), or are refused after `settle(false)`.
   */
  front(id: string, timeoutSeconds: number, ports: { container: number; host?: number }[]): Promise<{ ports: Record<string, number>; settle(ok: boolean): Promise<void> }>;
  /** Resume fronting a stored object after a daemon restart (its host ports as recorded). */
  resume(r: ObjectRow): Promise<void>;
  /** The object's phase, when it is fronted. */
  phase(id: string): Phase | undefined;
  /** Whether the keeper should leave it alone: put to sleep, asleep, or waking. */
  asleep(id: string): boolean;
  /** Run `fn` with the object awake (woken first if needed), counted as a request. */
  whileAwake<T>(id: string, fn: () => Promise<T>): Promise<T>;
  /** Close its fronts (the object is deleted, or its start failed). */
  release(id: string): Promise<void>;
  close(): Promise<void>;
}

/** An object started: its live state, its partial daemon's address, and what the partial daemon answered. */
export interface Started {
  state: ObjectState;
  uri: string;
  object: Record<string, unknown>;
}

/**
 * The policies' part in a start, an update, a scale (define.ts composes them): the lifecycle
 * asks, and does the rest itself.
 */
export interface StartHooks {
  /** Start it without a container start (a warm spare becomes it); undefined: make its container. */
  startWarm(id: string, workspaceId: string, startSpec: StartSpec, imageId: string | undefined, partialBody: Record<string, unknown>): Promise<Started | undefined>;
  /** After a start in its own container: keep what the next start of one like it needs (spares). */
  afterStart(id: string, workspaceId: string, startSpec: StartSpec, imageId: string | undefined): void;
  /** Replicas spread over machines: what each copy runs and how many copies; undefined: one object runs them. */
  placement(partialBody: Record<string, unknown>): { copies: number; body: Record<string, unknown> } | undefined;
  /** Scale and rolling update of spread replicas (absent: the partial daemon does them). */
  scale?(id: string, replicas: number): Promise<void>;
  rollingUpdate?(id: string, usesWith: Record<string, unknown>): Promise<Record<string, unknown> | undefined>;
}
