import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { LogFiles, type LogRecord, nanoIso, normalizeTime } from '../src/logfiles.ts';

const rec = (i: number, ms = i): LogRecord => ({ time: nanoIso(1_800_000_000 + Math.floor(ms / 1000), (ms % 1000) * 1e6), stream: 'stdout', message: `line ${i}`, workspace_id: 'w' });
const file = () => path.join(mkdtempSync(path.join(tmpdir(), 'jinad-logs-')), 'logs', 'x', 'logging.log');
async function take(it: AsyncGenerator<string>, n: number): Promise<string[]> {
  const out: string[] = [];
  for await (const line of it) {
    out.push(JSON.parse(line).message);
    if (out.length === n) break;
  }
  return out;
}

describe('log files', () => {
  it('times compare as text', () => {
    assert.equal(normalizeTime('2026-11-29T05:12:34.1Z'), '2026-11-29T05:12:34.100000000Z');
    assert.equal(normalizeTime('2026-11-29T05:12:34Z'), '2026-11-29T05:12:34.000000000Z');
    assert.equal(normalizeTime('2026-11-29T06:12:34.5+01:00'), '2026-11-29T05:12:34.500000000Z');
    assert.throws(() => normalizeTime('yesterday'));
  });
  it('tail, since, then new lines; nothing lost or repeated', async () => {
    const logs = new LogFiles({ maxBytes: 1 << 20, keep: 2 });
    const f = file();
    for (let i = 0; i < 10; i++) logs.append(f, rec(i));
    const ac = new AbortController();
    const it = logs.follow(f, { tail: 3, signal: ac.signal });
    const first = take(it, 5);
    setTimeout(() => {
      logs.append(f, rec(10));
      logs.append(f, rec(11));
    }, 20);
    assert.deepEqual(await first, ['line 7', 'line 8', 'line 9', 'line 10', 'line 11']);
    ac.abort();
    const since = await take(logs.follow(f, { since: rec(8).time, follow: false, signal: new AbortController().signal }), 100);
    assert.deepEqual(since, ['line 8', 'line 9', 'line 10', 'line 11']);
  });
  it('waits for a file that does not exist yet, and frees its listener on abort', async () => {
    const logs = new LogFiles({ maxBytes: 1 << 20, keep: 2 });
    const f = file();
    const ac = new AbortController();
    const got = take(logs.follow(f, { signal: ac.signal }), 1);
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(logs.followers(f), 1);
    logs.append(f, rec(1));
    assert.deepEqual(await got, ['line 1']);
    ac.abort();
    const idle = logs.follow(f, { tail: 0, signal: ac.signal });
    assert.equal((await idle.next()).done, true);
    assert.equal(logs.followers(f), 0);
  });
  it('lines keep their arrival order whatever their source time; a far-future one hides nothing', () => {
    const logs = new LogFiles({ maxBytes: 1 << 20, keep: 2 });
    const f = file();
    const src = (i: number, sourceMs: number): LogRecord => ({ ...rec(i), source_time: rec(0, sourceMs).time });
    logs.append(f, src(1, 5));
    logs.append(f, src(2, 9_999_999_999)); // dated 2286
    logs.append(f, src(3, 6));
    logs.append(f, src(3, 6)); // the same text at the same source time, sent twice: both kept, in order
    logs.append(f, src(4, 4));
    logs.flush();
    const lines = readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l).message);
    assert.deepEqual(lines, ['line 1', 'line 2', 'line 3', 'line 3', 'line 4']);
    assert.equal(new LogFiles({ maxBytes: 1 << 20, keep: 2 }).lastTime(f), rec(4).time);
  });
  it('a backfill writes what comes after the newest line the file has, found by position in the backend\'s copy', () => {
    const f = file();
    const src = (i: number, sourceMs: number): LogRecord => ({ ...rec(i), source_time: rec(0, sourceMs).time });
    const logs = new LogFiles({ maxBytes: 1 << 20, keep: 2 });
    logs.append(f, src(1, 1));
    logs.append(f, src(2, 2));
    logs.append(f, { ...rec(99), message: 'the daemon wrote this itself' }); // in no backend copy
    logs.close();
    // After a restart (read back from the file): the backend kept lines 1..5; 3..5 are missing.
    const reopened = new LogFiles({ maxBytes: 1 << 20, keep: 2 });
    const batch = [src(1, 1), src(2, 2), src(3, 3), src(4, 4), src(5, 5)];
    assert.deepEqual(reopened.appendAfterLast(f, batch).map((r) => r.message), ['line 3', 'line 4', 'line 5']);
    assert.deepEqual(reopened.appendAfterLast(f, batch), [], 'read again, nothing is new');
    // A stretch that starts after everything the file has is new as a whole.
    assert.deepEqual(reopened.appendAfterLast(f, [src(6, 6), src(6, 6)]).length, 2);
    reopened.flush();
    const lines = readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l).message);
    assert.deepEqual(lines, ['line 1', 'line 2', 'the daemon wrote this itself', 'line 3', 'line 4', 'line 5', 'line 6', 'line 6']);
  });
  it('a backfill after live lines in the same process finds them too (the lines are read back from the file)', () => {
    const f = file();
    const src = (i: number, sourceMs: number): LogRecord => ({ ...rec(i), source_time: rec(0, sourceMs).time });
    const logs = new LogFiles({ maxBytes: 1 << 20, keep: 2 });
    assert.deepEqual(logs.appendAfterLast(f, [src(1, 1)]).length, 1);
    logs.append(f, src(2, 2)); // live, not yet flushed
    logs.append(f, src(3, 3));
    assert.deepEqual(logs.appendAfterLast(f, [src(1, 1), src(2, 2), src(3, 3), src(4, 4)]).map((r) => r.message), ['line 4']);
    assert.deepEqual(logs.appendAfterLast(f, [src(3, 3), src(4, 4), src(5, 5)]).map((r) => r.message), ['line 5'], 'what a backfill wrote is remembered');
    logs.flush();
    const lines = readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l).message);
    assert.deepEqual(lines, ['line 1', 'line 2', 'line 3', 'line 4', 'line 5']);
  });
  it('a burst of 100,000 lines, written a turn at a time: a follower attached mid-burst gets every line once, in order, and the file has them all', async () => {
    const logs = new LogFiles({ maxBytes: 1 << 30, keep: 2 });
    const f = file();
    const N = 100_000;
    const ac = new AbortController();
    let follower: Promise<string[]> | undefined;
    for (let i = 0; i < N; i++) {
      logs.append(f, rec(i));
      if (i % 1000 === 999) await new Promise((r) => setImmediate(r)); // bursts of 1,000 lines per turn
      if (i === N / 2 + 17) follower = take(logs.follow(f, { signal: ac.signal }), N);
    }
    const got = await follower!;
    ac.abort();
    assert.equal(got.length, N);
    for (let i = 0; i < N; i++) if (got[i] !== `line ${i}`) assert.fail(`line ${i} was ${got[i]}`);
    logs.flush();
    assert.equal(readFileSync(f, 'utf8').trim().split('\n').length, N);
  });
  it('rotates at the size cap, keeping `keep` old files', () => {
    const logs = new LogFiles({ maxBytes: 1000, keep: 2 });
    const f = file();
    for (let i = 0; i < 60; i++) logs.append(f, rec(i));
    logs.flush();
    assert.ok(existsSync(`${f}.1`) && existsSync(`${f}.2`) && !existsSync(`${f}.3`));
    assert.ok(readFileSync(f).length <= 1000);
    assert.match(readFileSync(f, 'utf8').trim().split('\n').at(-1)!, /line 59/);
  });
});

describe('slow followers', () => {
  it('a follower that falls too far behind ends with how to resume, instead of holding lines without bound', async () => {
    const logs = new LogFiles({ maxBytes: 1 << 20, keep: 2 });
    const f = file();
    const ac = new AbortController();
    const it = logs.follow(f, { tail: 0, maxLag: 10, signal: ac.signal });
    const first = it.next(); // subscribes, then waits
    logs.append(f, rec(0));
    assert.equal(JSON.parse((await first).value).message, 'line 0');
    for (let i = 1; i <= 30; i++) logs.append(f, rec(i)); // nobody reads meanwhile
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for (let r = await it.next(); !r.done; r = await it.next()) seen.push(JSON.parse(r.value).message);
      })(),
      /fell more than 10 lines behind; follow again with since=/,
    );
    assert.ok(seen.length <= 10);
    assert.equal(logs.followers(f), 0);
  });
});
