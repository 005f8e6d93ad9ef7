/**
 * The store: one libSQL database through Drizzle, migrated at open.
 *
 * One connection: libSQL runs each statement synchronously on the event loop, so a pool adds no
 * parallelism, only locks between its own connections. On that one connection the WAL journal
 * syncs at checkpoints, not at every commit (`synchronous = NORMAL`: a crash cannot corrupt the
 * file; a power cut may lose the last commits): a commit that waits for fsync blocks every
 * request, and on a disk the Docker Engine keeps busy that wait was seconds. A busy timeout still
 * covers other processes using the file. Several statements that must succeed or fail together
 * go through `db.batch([...])`, which is atomic and takes no lock across an await.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from '@libsql/client';
import { sql } from 'drizzle-orm';
import { drizzle, type LibSQLDatabase } from 'drizzle-orm/libsql';
import { migrate } from 'drizzle-orm/libsql/migrator';
import { storeCounters } from './schema.ts';

const MIGRATIONS = fileURLToPath(new URL('../../drizzle', import.meta.url));

export type Db = LibSQLDatabase<Record<string, never>>;

export interface Store {
  db: Db;
  /** Bump JinaD's num_add/num_del counters of one store. */
  count(store: string, change: { add?: number; del?: number }): Promise<void>;
  counters(store: string): Promise<{ time_created: string; time_updated: string; num_add: number; num_del: number }>;
  close(): void;
}

export async function openStore(url: string, authToken?: string): Promise<Store> {
  if (url.startsWith('file:') && !url.includes(':memory:')) mkdirSync(path.dirname(url.slice(5)), { recursive: true });
  const client: Client = createClient({ url, authToken, timeout: 5000, concurrency: 1 });
  if (url.startsWith('file:') && !url.includes(':memory:')) {
    await client.execute('PRAGMA journal_mode = WAL');
    await client.execute('PRAGMA synchronous = NORMAL');
  }
  const db = drizzle(client) as Db;
  await migrate(db, { migrationsFolder: MIGRATIONS });

  const now = () => new Date().toISOString();
  type Counters = Awaited<ReturnType<Store['counters']>>;
  /**
   * The counters, read once and then kept as they are written: every list (GET /workspaces,
   * /flows, /status) shows them, and a read that queued a statement behind the writes of a busy
   * daemon (uploads, deletes) waited for all of them. This daemon is the store's only writer.
   */
  const kept = new Map<string, Counters>();
  for (const row of await db.select().from(storeCounters)) kept.set(row.store, { time_created: row.timeCreated, time_updated: row.timeUpdated, num_add: row.numAdd, num_del: row.numDel });
  return {
    db,
    async count(store, { add = 0, del = 0 }) {
      const t = now();
      await db
        .insert(storeCounters)
        .values({ store, numAdd: add, numDel: del, timeCreated: t, timeUpdated: t })
        .onConflictDoUpdate({
          target: storeCounters.store,
          set: { numAdd: sql`${storeCounters.numAdd} + ${add}`, numDel: sql`${storeCounters.numDel} + ${del}`, timeUpdated: t },
        });
      const was = kept.get(store);
      kept.set(store, was ? { ...was, time_updated: t, num_add: was.num_add + add, num_del: was.num_del + del } : { time_created: t, time_updated: t, num_add: add, num_del: del });
    },
    async counters(store) {
      const t = now();
      return { ...(kept.get(store) ?? { time_created: t, time_updated: t, num_add: 0, num_del: 0 }) };
    },
    close: () => client.close(),
  };
}
