import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { JobRunner } from '../src/jobs.ts';
import { createLogger } from '../src/logger.ts';
import { openStore } from '../src/store/db.ts';

const log = createLogger('silent');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('jobs', () => {
  it('runs one job at a time per key, in order, and caps the total', async () => {
    const store = await openStore(':memory:');
    const jobs = new JobRunner(store, 2, log);
    const events: string[] = [];
    let running = 0;
    let peak = 0;
    jobs.define<{ key: string; n: number }>('t', async ({ key, n }) => {
      running++;
      peak = Math.max(peak, running);
      events.push(`start ${key}${n}`);
      await sleep(20);
      events.push(`end ${key}${n}`);
      running--;
    });
    for (const n of [1, 2, 3]) for (const key of ['a', 'b', 'c']) await jobs.enqueue('t', key, { key, n });
    assert.equal(jobs.pending('a'), 3);
    await jobs.idle();
    assert.equal(peak, 2);
    for (const key of ['a', 'b', 'c']) {
      const mine = events.filter((e) => e.endsWith(key + '1') || e.endsWith(key + '2') || e.endsWith(key + '3'));
      assert.deepEqual(mine, [1, 2, 3].flatMap((n) => [`start ${key}${n}`, `end ${key}${n}`]), key);
    }
    assert.equal((await jobs.persistedKeys()).size, 0);
  });

  it('a job interrupted by shutdown runs again at the next start', async () => {
    const url = `file:${path.join(mkdtempSync(path.join(tmpdir(), 'jinad-jobs-')), 'db')}`;
    const store1 = await openStore(url);
    const first = new JobRunner(store1, 1, log);
    let started = 0;
    first.define('slow', async (_p, ctx) => {
      started++;
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
    });
    await first.enqueue('slow', 'k', {});
    await first.enqueue('slow', 'k', {});
    await sleep(20);
    await first.close();
    store1.close();
    assert.equal(started, 1);

    const store2 = await openStore(url);
    const second = new JobRunner(store2, 1, log);
    const resumed: boolean[] = [];
    second.define('slow', async (_p, ctx) => void resumed.push(ctx.resumed));
    assert.equal(await second.resume(), 2);
    await second.idle();
    assert.deepEqual(resumed, [true, true]);
    store2.close();
  });

  it('cancel drops queued jobs of a key and aborts the running one', async () => {
    const store = await openStore(':memory:');
    const jobs = new JobRunner(store, 1, log);
    const ran: number[] = [];
    jobs.define<{ n: number }>('t', async ({ n }, ctx) => {
      ran.push(n);
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
    });
    await jobs.enqueue('t', 'k', { n: 1 });
    await jobs.enqueue('t', 'k', { n: 2 });
    await sleep(10);
    await jobs.cancel('k');
    assert.deepEqual(ran, [1]);
    assert.equal(jobs.pending('k'), 0);
  });
});

describe('cancel while waiting', () => {
  it('a job cancelled while it waits for a slot leaves at once, without waiting for the slot', async () => {
    const store = await openStore(':memory:');
    const jobs = new JobRunner(store, 1, log);
    let release = () => {};
    const ran: string[] = [];
    jobs.define<{ key: string }>('t', async ({ key }) => {
      ran.push(key);
      if (key === 'busy') await new Promise<void>((r) => (release = r));
    });
    await jobs.enqueue('t', 'busy', { key: 'busy' });
    await jobs.enqueue('t', 'queued', { key: 'queued' });
    const t0 = performance.now();
    await jobs.cancel('queued');
    assert.ok(performance.now() - t0 < 1000, 'cancel waited for the busy slot');
    assert.equal(jobs.pending('queued'), 0);
    release();
    await jobs.idle();
    assert.deepEqual(ran, ['busy']);
    store.close();
  });
});
