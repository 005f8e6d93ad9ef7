/** Jina 2's Flow YAML features beyond a chain of executors: shards with polling, uses_before/after, uses_requests, disable_reduce, timeout_ready. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { DefinitionError, Flow, loadFlow } from '../../src/runtime/index.ts';
import { fixture, post } from './helpers.ts';

const flows: Flow[] = [];
after(async () => {
  for (const f of flows) await f.close();
});
async function start(file: string) {
  const flow = await new Flow(loadFlow(fixture(file)), { host: '127.0.0.1' }).start();
  flows.push(flow);
  return flow;
}

describe('Flow YAML: shards, polling and the executors around them', () => {
  it('polling all: every shard answers, the answers are merged by document id; uses_before runs first', async () => {
    const flow = await start('shards-all.yml');
    const out = await post(flow.port!, '/index', { data: [{ id: 'a', text: 'x' }, { id: 'b', text: 'y' }] });
    assert.equal(out.status.code, 0);
    assert.deepEqual(out.data.docs.map((d: any) => d.id), ['a', 'b']);
    for (const d of out.data.docs) {
      assert.deepEqual(d.tags, { before: true, shard0: true, shard1: true, shard2: true });
      assert.deepEqual(d.matches.map((m: any) => m.tags.shard).sort(), [0, 1, 2]);
      assert.ok(d.matches.every((m: any) => m.tags.of === 3));
    }
    assert.equal(out.docsMatrix, undefined);
  });

  it('polling any: one shard per request, in turn', async () => {
    const flow = await start('shards-any.yml');
    const seen = new Set<number>();
    for (let i = 0; i < 4; i++) {
      const out = await post(flow.port!, '/index', { data: [{ id: `d${i}` }] });
      assert.equal(out.data.docs[0].matches.length, 1);
      seen.add(out.data.docs[0].matches[0].tags.shard);
    }
    assert.deepEqual([...seen].sort(), [0, 1]);
  });

  it("uses_after reduces the shards itself: it gets every answer as docsMatrix (shards given as Jina 2.0's `parallel`)", async () => {
    const flow = await start('shards-after.yml');
    const out = await post(flow.port!, '/index', { data: [{ id: 'a' }] });
    assert.equal(out.data.docs[0].tags.reducedFrom, 2);
  });

  it("Jina's own reducers (`uses_after: _merge_matches`, `_pass`) are the default merge", async () => {
    const flow = await start('shards-merge.yml');
    const out = await post(flow.port!, '/index', { data: [{ id: 'a' }] });
    assert.deepEqual(out.data.docs[0].matches.map((m: any) => m.tags.shard).sort(), [0, 1]);
  });

  it('scale and rolling_update reach every shard', async () => {
    const flow = await start('shards-all.yml');
    await flow.scale('search', 2);
    assert.equal(flow.pods.get('search')!.replicaCount, 2);
    const out = await post(flow.port!, '/index', { data: [{ id: 'a' }] });
    assert.equal(out.data.docs[0].matches.length, 3);
  });
});

describe('Flow YAML: uses_requests, disable_reduce, timeout_ready', () => {
  it('uses_requests maps endpoints to methods', async () => {
    const flow = await start('uses-requests.yml');
    assert.equal((await post(flow.port!, '/index', { data: ['Hi'] })).data.docs[0].text, 'Hi!');
    assert.equal((await post(flow.port!, '/search', { data: ['Hi'] })).data.docs[0].text, 'hi');
  });

  it('disable_reduce: the join gets every branch as docsMatrix, unmerged', async () => {
    const flow = await start('no-reduce.yml');
    const out = await post(flow.port!, '/index', { data: [{ id: 'a' }] });
    assert.deepEqual([out.data.docs[0].tags.branches, out.data.docs[0].tags.merged], [2, false]);
  });

  it('timeout_ready: an executor slower to load fails the start, naming the timeout', async () => {
    await assert.rejects(start('slow-ready.yml'), /did not start within 0.5 s \(timeout_ready\)/);
  });

  it('bad values are named with the file and field', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jinad-shards-'));
    const bad = (body: string, match: RegExp) => {
      const file = path.join(dir, 'flow.yml');
      writeFileSync(file, `jtype: Flow\nexecutors:\n  - name: e\n    uses: E\n    py_modules: [e.ts]\n${body}`);
      writeFileSync(path.join(dir, 'e.ts'), 'export class E {}\n');
      assert.throws(() => loadFlow(file), (err: Error) => err instanceof DefinitionError && match.test(err.message));
    };
    bad('    polling: sometimes\n', /executors\[0\]\.polling: expected 'any' or 'all'/);
    bad('    shards: 0\n', /executors\[0\]\.shards: expected a positive integer/);
    bad('    timeout_ready: soon\n', /executors\[0\]\.timeout_ready: expected milliseconds/);
    bad('    uses_requests: [shout]\n', /executors\[0\]\.uses_requests/);
    bad('    disable_reduce: maybe\n', /executors\[0\]\.disable_reduce: expected true or false/);
    bad('    uses_after: jinahub://Reducer\n', /executors\[0\]\.uses_after: 'jinahub:\/\/Reducer': Hub and Docker executors need a container registry/);
  });
});
