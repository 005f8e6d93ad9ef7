/**
 * Object rows of one kind, with a write-through copy in memory (reads serve GETs and the
 * workspace's `managed_objects` from memory). The daemon is the only writer of its rows.
 */
import { eq } from 'drizzle-orm';
import type { Store } from '../store/db.ts';
import { containerObjects, type ObjectRow } from './schema.ts';

export async function openObjectRepo(store: Store, kind: string) {
  const rows = new Map<string, ObjectRow>();
  for (const r of await store.db.select().from(containerObjects).where(eq(containerObjects.kind, kind))) rows.set(r.id, r);
  const now = () => new Date().toISOString();
  return {
    get: (id: string) => rows.get(id),
    all: () => [...rows.values()],
    inWorkspace: (workspaceId: string) => [...rows.values()].filter((r) => r.workspaceId === workspaceId),
    async insert(row: Omit<ObjectRow, 'timeCreated' | 'timeUpdated'>): Promise<ObjectRow> {
      const t = now();
      const full: ObjectRow = { ...row, timeCreated: t, timeUpdated: t };
      await store.db.insert(containerObjects).values(full);
      rows.set(full.id, full);
      return full;
    },
    async patch(id: string, set: Partial<Pick<ObjectRow, 'metadata' | 'arguments' | 'start'>>): Promise<void> {
      const prev = rows.get(id);
      if (!prev) return;
      const next = { ...prev, ...set, timeUpdated: now() };
      await store.db.update(containerObjects).set({ ...set, timeUpdated: next.timeUpdated }).where(eq(containerObjects.id, id));
      rows.set(id, next);
    },
    async remove(id: string): Promise<void> {
      await store.db.delete(containerObjects).where(eq(containerObjects.id, id));
      rows.delete(id);
    },
  };
}
export type ObjectRepo = Awaited<ReturnType<typeof openObjectRepo>>;
