/** Objects (Flows, Pods, Peas, and kinds plugins add): one table for every kind, one row each. */
import { sqliteTable, text } from 'drizzle-orm/sqlite-core';
import type { Resources } from '../contract/resources.ts';

export interface ObjectMetadata {
  /** Short id of the object in the backend (a container id); its name is the object id. */
  container_id: string;
  container_name: string;
  image_id: string;
  network: string;
  /** `"<port inside>/tcp"` → published port. */
  ports: Record<string, number>;
  /** Base URL of the partial daemon in the object, as the daemon reaches it. */
  uri: string;
  /** Times it was started again after it stopped (absent in rows from before restarts were counted). */
  restarts?: number;
  /** The engine's start time of its container, as last counted: a start at another time is a restart. */
  started_at?: string;
  /** The last time it stopped without being asked to, and why. */
  last_exit?: { time: string; exit_code: number | null; oom_killed: boolean; reason: string } | null;
  /** Scale to zero: its timeout (seconds), the host ports the daemon holds for it, its wakes. */
  idle?: { timeout: number; ports: Record<string, number>; wakes: number; last_wake: string | null };
}

export interface ObjectArguments {
  /** The partial daemon's answer at creation or last update. */
  object: Record<string, unknown>;
  entrypoint: string;
  envs: Record<string, string>;
  /** What the kind keeps of its create request: a Flow its `filename`, a Pod or Pea its `args`. */
  [key: string]: unknown;
}

/** How an object was started: enough to start it again after the engine restarted. Not on the wire. */
export interface StartSpec {
  partialBody: Record<string, unknown>;
  ports: { container: number; host?: number }[];
  env: Record<string, string>;
  /** Its limits and restart policy (absent in rows from before they were kept: the defaults). */
  resources?: Resources;
  restart?: string;
  /** Where it may run on a backend of several machines (Swarm placement constraints). */
  constraints?: string[];
  /** Seconds without a request before it stops (absent: never). */
  idleTimeout?: number;
  /**
   * Asleep without a container (its container was removed when it went idle, warm spares being
   * on): what its partial daemon ran then, which a wake starts again. Absent while it runs.
   */
  resume?: Record<string, unknown>;
  /** Its ports serve no metrics (not listed at /metrics/targets). */
  scrape?: false;
}

export const containerObjects = sqliteTable('container_objects', {
  id: text('id').primaryKey(),
  kind: text('kind').notNull(),
  workspaceId: text('workspace_id').notNull(),
  metadata: text('metadata', { mode: 'json' }).$type<ObjectMetadata>().notNull(),
  arguments: text('arguments', { mode: 'json' }).$type<ObjectArguments>().notNull(),
  start: text('start', { mode: 'json' }).$type<StartSpec>(),
  timeCreated: text('time_created').notNull(),
  timeUpdated: text('time_updated').notNull(),
});

export type ObjectRow = typeof containerObjects.$inferSelect;
