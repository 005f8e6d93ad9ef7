/** The workspace store table. The wire item (§3.3 of the reference) is derived from a row. */
import { sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { WORKSPACE_STATES } from 'jinad/plugin';

export interface WorkspaceMetadata {
  /** Short image id (10 hex), null until the first build. */
  image_id: string | null;
  /** `jworkspace:<uuid>` */
  image_name: string | null;
  /** Short id of the workspace's bridge network. */
  network: string | null;
  workdir: string;
  /** Short id of the `run` container, if any. */
  container_id: string | null;
  /** Host ports the `run` container publishes. */
  ports: number[];
}

export interface WorkspaceArguments {
  /** Every file uploaded so far (zips as their extracted files). */
  files: string[];
  /** The `.jinad` keys the user wrote, each as its text (JinaD 2.0's `Dict[str, str]`). */
  jinad: Record<string, string>;
  /** The same, parsed (ports as numbers, limits in bytes, …); rows from before it have only `jinad`, parsed. */
  jinad_parsed?: Record<string, unknown>;
  /** Requirement files installed with pip. */
  requirements: string;
}

export const workspaces = sqliteTable('workspaces', {
  id: text('id').primaryKey(),
  state: text('state', { enum: WORKSPACE_STATES }).notNull(),
  /** Why the workspace is FAILED, written for a person to act on. */
  reason: text('reason'),
  /** Last lines of the build output when it failed. */
  logTail: text('log_tail', { mode: 'json' }).$type<string[]>(),
  metadata: text('metadata', { mode: 'json' }).$type<WorkspaceMetadata>().notNull(),
  arguments: text('arguments', { mode: 'json' }).$type<WorkspaceArguments>(),
  timeCreated: text('time_created').notNull(),
  timeUpdated: text('time_updated').notNull(),
});

export type WorkspaceRow = typeof workspaces.$inferSelect;
