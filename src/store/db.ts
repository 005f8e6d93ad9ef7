/**
 * The store: one libSQL database through Drizzle, migrated at open.
 * Every connection gets a busy timeout (`timeout` applies to each pooled connection, a PRAGMA
 * would reach only one), and write transactions are serialized in-process, because two
 * interactive transactions in one process deadlock on libSQL's synchronous busy wait.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from '@libsql/client';
import { eq, sql } from 'drizzle-orm';
import { drizzle, type LibSQLDatabase } from 'drizzle-orm/libsql';
import { migrate } from 'drizzle-orm/libsql/migrator';
import { storeCounters } from './schema.ts';

const MIGRATIONS = fileURLToPath(new URL('../../drizzle', import.meta.url));

export type Db = LibSQLDatabase<Record<string, never>>;
type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

export interface Store {
  db: Db;
  /** Run a write transaction; transactions are queued one after another. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Bump JinaD's num_add/num_del counters of one store. */
  count(store: string, change: { add?: number; del?: number }): Promise<void>;
  counters(store: string): Promise<{ time_created: string; time_updated: string; num_add: number; num_del: number }>;
  close(): void;
}

export async function openStore(url: string, authToken?: string): Promise<Store> {
  if (url.startsWith('file:') && !url.includes(':memory:')) mkdirSync(path.dirname(url.slice(5)), { recursive: true });
  const client: Client = createClient({ url, authToken, timeout: 5000 });
  if (url.startsWith('file:') && !url.includes(':memory:')) await client.execute('PRAGMA journal_mode = WAL');
  const db = drizzle(client) as Db;
  await migrate(db, { migrationsFolder: MIGRATIONS });

  let queue: Promise<unknown> = Promise.resolve();
  const transaction = <T>(fn: (tx: Tx) => Promise<T>): Promise<T> => {
    const run = queue.then(() => db.transaction(fn));
    queue = run.catch(() => undefined);
    return run;
  };

  const now = () => new Date().toISOString();
  return {
    db,
    transaction,
    async count(store, { add = 0, del = 0 }) {
      const t = now();
      await db
        .insert(storeCounters)
        .values({ store, numAdd: add, numDel: del, timeCreated: t, timeUpdated: t })
        .onConflictDoUpdate({
          target: storeCounters.store,
          set: { numAdd: sql`${storeCounters.numAdd} + ${add}`, numDel: sql`${storeCounters.numDel} + ${del}`, timeUpdated: t },
        });
    },
    async counters(store) {
      const [row] = await db.select().from(storeCounters).where(eq(storeCounters.store, store));
      const t = now();
      return row
        ? { time_created: row.timeCreated, time_updated: row.timeUpdated, num_add: row.numAdd, num_del: row.numDel }
        : { time_created: t, time_updated: t, num_add: 0, num_del: 0 };
    },
    close: () => client.close(),
  };
}
