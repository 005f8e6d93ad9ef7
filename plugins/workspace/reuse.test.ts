/**
 * The same files posted again to an ACTIVE workspace's id (as JinaD clients and remote
 * Executors do) are not built again; a changed file, an archive or a new file is. An item's
 * metadata is null until its image exists.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { callJson, filesForm, startFakeDaemon, waitForState } from '../../test/helpers.ts';

let d: Awaited<ReturnType<typeof startFakeDaemon>>;
before(async () => {
  d = await startFakeDaemon();
});
after(() => d?.cleanup());

const post = async (id: string, files: Record<string, string>) => {
  const res = await fetch(`${d.url}/workspaces?id=${id}`, { method: 'POST', body: filesForm(files) });
  assert.equal(res.status, 201);
  return ((await res.json()) as Record<string, any>)[id];
};

describe('reusing a workspace id', () => {
  it('the same files again: no rebuild; a changed or new file: a rebuild', async () => {
    const id = 'jworkspace-0d7c3a52-1111-4222-8333-444455556666';
    const files = { 'a.txt': 'one', 'sub/b.txt': 'two' };
    assert.equal((await post(id, files)).metadata, null, 'null until the image exists, as in JinaD 2.0');
    const built = await waitForState(d.url, id, ['ACTIVE']);
    assert.ok(built.metadata.image_id);
    const again = await post(id, files);
    assert.equal(again.state, 'ACTIVE');
    assert.equal(again.queued, 0);
    assert.equal(again.time_updated, built.time_updated, 'not built again');
    assert.equal(again.metadata.image_id, built.metadata.image_id);
    const changed = await post(id, { 'a.txt': 'ONE' });
    assert.notEqual(changed.state, 'ACTIVE');
    const rebuilt = await waitForState(d.url, id, ['ACTIVE']);
    assert.notEqual(rebuilt.time_updated, built.time_updated);
    await post(id, { 'c.txt': 'new' });
    assert.notEqual((await waitForState(d.url, id, ['ACTIVE'])).time_updated, rebuilt.time_updated);
    assert.deepEqual((await callJson(d.url, 'GET', `/workspaces/${id}`)).body.arguments.files.sort(), ['a.txt', 'c.txt', 'sub/b.txt']);
  });
});
