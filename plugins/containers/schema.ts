/** Flows, Pods and Peas: one container each, one table for the three kinds. */
import { sqliteTable, text } from 'drizzle-orm/sqlite-core';

export const OBJECT_KINDS = ['flow', 'pod', 'pea'] as const;
export type ObjectKind = (typeof OBJECT_KINDS)[number];

export interface ObjectMetadata {
  /** Short id of the container; its name is the object id. */
  container_id: string;
  container_name: string;
  image_id: string;
  network: string;
  /** `"<container port>/tcp"` → host port, as published. */
  ports: Record<string, number>;
  /** Base URL of the partial daemon in the container, as the daemon reaches it. */
  uri: string;
}

export interface ObjectArguments {
  /** The partial daemon's answer at creation or last update. */
  object: Record<string, unknown>;
  entrypoint: string;
  envs: Record<string, string>;
  /** Flows: the Flow YAML in the workspace. */
  filename?: string;
  /** Pods and Peas: the arguments they were created with. */
  args?: Record<string, unknown>;
}

export const containerObjects = sqliteTable('container_objects', {
  id: text('id').primaryKey(),
  kind: text('kind', { enum: OBJECT_KINDS }).notNull(),
  workspaceId: text('workspace_id').notNull(),
  metadata: text('metadata', { mode: 'json' }).$type<ObjectMetadata>().notNull(),
  arguments: text('arguments', { mode: 'json' }).$type<ObjectArguments>().notNull(),
  timeCreated: text('time_created').notNull(),
  timeUpdated: text('time_updated').notNull(),
});

export type ObjectRow = typeof containerObjects.$inferSelect;
