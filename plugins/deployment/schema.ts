/** Deployments the daemon applied: what each declared, and which objects it made for it. */
import { sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** One member as applied: the object made for it, and the fingerprints a plan compares. */
export interface MemberRecord {
  kind: 'flow' | 'pod' | 'pea';
  id: string;
  /** Hash of everything but replicas and uses_with (a change replaces the object). */
  def: string;
  /** The parts of that hash (`definition`, `env PORT`, `restart`, …): a plan names the ones that changed. */
  parts: Record<string, string>;
  /** Executor name → replicas / uses_with (a change is a scale / rolling_update). */
  replicas: Record<string, number>;
  usesWith: Record<string, unknown>;
}

export const deployments = sqliteTable('deployments', {
  name: text('name').primaryKey(),
  workspaceId: text('workspace_id').notNull(),
  /** Workspace path → SHA-256 of the content applied. */
  files: text('files', { mode: 'json' }).$type<Record<string, string>>().notNull(),
  /** `flows.web` → its object. */
  members: text('members', { mode: 'json' }).$type<Record<string, MemberRecord>>().notNull(),
  /** `api` (PUT /deployments/{name}) or `config` (the daemon's own jinad.config.ts). */
  source: text('source').notNull(),
  lastError: text('last_error'),
  timeCreated: text('time_created').notNull(),
  timeUpdated: text('time_updated').notNull(),
});

export type DeploymentRow = typeof deployments.$inferSelect;
