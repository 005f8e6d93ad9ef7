/**
 * Images a rebuild replaces while objects still use them (untagged, labelled) are removed once
 * nothing uses them: at the next start, and when a workspace is deleted with everything.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createWorkspace, docker, filesForm, LABEL, startDaemon, type TestDaemon, waitForState } from './helpers.ts';

const executors = readFileSync(fileURLToPath(new URL('./fixtures/runtime/executors.ts', import.meta.url)));
let d: TestDaemon | undefined;
after(() => d?.cleanup());

const post = async (route: string, body: unknown) =>
  (await (await fetch(`${d!.url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json()) as string;
const images = async () => (await docker.listLabelled({ [LABEL.instance]: d!.instance, [LABEL.kind]: 'workspace' })).images;

describe('images replaced by a rebuild', () => {
  it('are removed at the next start and by everything=true, once no object uses them', async () => {
    d = await startDaemon();
    const { id } = await createWorkspace(d.url, { 'executors.ts': executors, 'v.txt': 'one' });
    const pea = await post(`/peas?workspace_id=${id}`, { uses: 'Tagger', py_modules: ['executors.ts'] });
    assert.match(pea, /^jpea-/);
    const oldImage = (await docker.engine.getContainer(pea).inspect()).Image;
    await fetch(`${d.url}/workspaces/${id}`, { method: 'PUT', body: filesForm({ 'v.txt': 'two' }) });
    assert.equal((await waitForState(d.url, id, ['ACTIVE', 'FAILED'])).state, 'ACTIVE');
    assert.ok(await docker.imageId(oldImage), 'the old image stays while the Pea uses it');
    assert.equal((await fetch(`${d.url}/peas/${pea}`, { method: 'DELETE' })).status, 200);
    // A restart removes it: it is untagged, labelled, and nothing uses it now.
    await d.stop();
    d = await startDaemon({ root: d.root, instance: d.instance, logsPort: d.logsPort });
    assert.equal(await docker.imageId(oldImage), undefined, 'the replaced image is gone after the restart');
    assert.equal((await images()).length, 1, 'the current image stays');

    // Again, then delete the workspace with everything: nothing labelled is left.
    const pea2 = await post(`/peas?workspace_id=${id}`, { uses: 'Tagger', py_modules: ['executors.ts'] });
    await fetch(`${d.url}/workspaces/${id}`, { method: 'PUT', body: filesForm({ 'v.txt': 'three' }) });
    assert.equal((await waitForState(d.url, id, ['ACTIVE', 'FAILED'])).state, 'ACTIVE');
    assert.equal((await images()).length, 2);
    assert.ok(pea2);
    assert.equal((await fetch(`${d.url}/workspaces/${id}?everything=true`, { method: 'DELETE' })).status, 200);
    assert.deepEqual(await images(), []);
  });
});
