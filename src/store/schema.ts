/** The core's own tables. Objects of every kind share src/objects/schema.ts; plugins keep theirs in their schema.ts. */
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** Daemon-wide facts that must survive restarts (e.g. the instance label). */
export const meta = sqliteTable('meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});

/** JinaD's store-status counters, one row per store name (`workspace`, `flow`, …). */
export const storeCounters = sqliteTable('store_counters', {
  store: text('store').primaryKey(),
  numAdd: integer('num_add').notNull().default(0),
  numDel: integer('num_del').notNull().default(0),
  timeCreated: text('time_created').notNull(),
  timeUpdated: text('time_updated').notNull(),
});

/** Background jobs not yet finished: rerun after a restart, in order, one at a time per key. */
export const jobs = sqliteTable('jobs', {
  id: text('id').primaryKey(),
  type: text('type').notNull(),
  key: text('key').notNull(),
  payload: text('payload', { mode: 'json' }).notNull(),
  seq: integer('seq').notNull(),
});
