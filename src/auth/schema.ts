/** Access tokens and the audit trail: the core's security tables. */
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * API tokens. A token is `jinad_<id>_<secret>`: `id` finds the row, and only a SHA-256 of the
 * secret is kept (the secret is 256 random bits, so a slow hash adds nothing), compared in
 * constant time. The token itself is shown once, at creation.
 */
export const tokens = sqliteTable('tokens', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  /** read | write | admin */
  scope: text('scope').notNull(),
  secretHash: text('secret_hash').notNull(),
  createdAt: text('created_at').notNull(),
  /** ISO time after which the token is refused; null: never. */
  expiresAt: text('expires_at'),
});

/** Every mutating call: who (token name), from where, what, and how it ended. */
export const audit = sqliteTable('audit', {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  time: text('time').notNull(),
  token: text('token'),
  address: text('address').notNull(),
  method: text('method').notNull(),
  path: text('path').notNull(),
  status: integer('status').notNull(),
});
