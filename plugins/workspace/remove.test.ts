/**
 * Deleting a workspace with everything (fake backend, no engine): its folders leave their places
 * at once (moved to the root's .trash, removed behind the answer), and what a stopped daemon left
 * in .trash is removed at its next start.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { createWorkspace, startFakeDaemon } from '../../test/helpers.ts';

let d: Awaited<ReturnType<typeof startFakeDaemon>>;
after(() => d?.cleanup());

async function until(ok: () => boolean, what: string) {
  for (let i = 0; !ok(); i++) {
    if (i > 200) assert.fail(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('a deleted workspace leaves no folder, at once; the trash is emptied behind the answer and at the next start', async () => {
  d = await startFakeDaemon();
  const { id } = await createWorkspace(d.url, { 'a.txt': 'A', 'sub/b.txt': 'B' });
  const places = [path.join(d.root, id), path.join(d.root, '.daemon', id), path.join(d.root, '.staging', id)];
  assert.ok(existsSync(places[0]!) && existsSync(places[1]!));
  assert.equal((await fetch(`${d.url}/workspaces/${id}?everything=true`, { method: 'DELETE' })).status, 200);
  assert.deepEqual(places.filter((p) => existsSync(p)), [], 'nothing left in its places when DELETE answers');
  const trash = path.join(d.root, '.trash');
  await until(() => readdirSync(trash).length === 0, 'the trash emptied');

  // A daemon stopped before it emptied its trash: the next one does.
  mkdirSync(path.join(trash, 'left-behind', 'sub'), { recursive: true });
  writeFileSync(path.join(trash, 'left-behind', 'sub', 'f.txt'), 'x');
  await d.stop();
  d = await startFakeDaemon({ root: d.root, instance: d.instance, logsPort: d.logsPort });
  assert.deepEqual(readdirSync(trash), []);
});
