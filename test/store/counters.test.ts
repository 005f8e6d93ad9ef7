/**
 * The store's counters (JinaD's num_add/num_del per store): served from memory, written through,
 * and the same as the file says after a reopen; a read is never a statement queued behind writes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { storeCounters } from '../../src/store/schema.ts';
import { openStore } from '../../src/store/db.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'jinad-counters-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('counters are kept as written, match the file after a reopen, and a read waits for no statement', async () => {
  const url = `file:${path.join(dir, 'jinad.db')}`;
  const store = await openStore(url);
  assert.deepEqual([(await store.counters('flow')).num_add, (await store.counters('flow')).num_del], [0, 0]);
  await Promise.all([store.count('flow', { add: 1 }), store.count('flow', { add: 1 }), store.count('flow', { del: 1 }), store.count('pea', { add: 3 })]);
  const flow = await store.counters('flow');
  assert.deepEqual([flow.num_add, flow.num_del, (await store.counters('pea')).num_add], [2, 1, 3]);
  const [row] = (await store.db.select().from(storeCounters)).filter((r) => r.store === 'flow');
  assert.deepEqual([row!.numAdd, row!.numDel, row!.timeUpdated], [2, 1, flow.time_updated]);
  // A read while a write is in flight answers at once, with what was written before it.
  const writing = store.count('flow', { add: 1 });
  assert.equal((await store.counters('flow')).num_add, 2);
  await writing;
  store.close();
  const again = await openStore(url);
  assert.deepEqual({ ...(await again.counters('flow')) }, { ...flow, num_add: 3, time_updated: (await again.counters('flow')).time_updated });
  again.close();
});
