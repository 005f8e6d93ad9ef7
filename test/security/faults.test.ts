/** Faults (fake backend): an upload taken while the backend is down is built once it is back; a dead `run` container shows. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createWorkspace, filesForm, startFakeDaemon, waitForState } from '../helpers.ts';

let d: Awaited<ReturnType<typeof startFakeDaemon>>;
before(async () => {
  d = await startFakeDaemon();
});
after(() => d?.cleanup());

describe('the backend goes away and comes back', () => {
  it('an upload taken while it is down is FAILED with the reason, then built when it is back', async () => {
    d.backend.setReachable(false);
    const res = await fetch(`${d.url}/workspaces`, { method: 'POST', body: filesForm({ 'a.txt': 'a' }) });
    assert.equal(res.status, 201);
    const id = Object.keys((await res.json()) as object)[0]!;
    const failed = await waitForState(d.url, id, ['FAILED'], 10_000);
    assert.match(failed.reason, /not reachable.*runs again when it is back/);
    assert.equal(failed.queued, 1, 'the build is still queued');
    d.backend.setReachable(true);
    const active = await waitForState(d.url, id, ['ACTIVE'], 15_000);
    assert.deepEqual(active.arguments.files, ['a.txt']);
  });

  it('a DELETE while it waits ends the wait at once', async () => {
    d.backend.setReachable(false);
    const res = await fetch(`${d.url}/workspaces`, { method: 'POST', body: filesForm({ 'b.txt': 'b' }) });
    const id = Object.keys((await res.json()) as object)[0]!;
    await waitForState(d.url, id, ['FAILED'], 10_000);
    d.backend.setReachable(true);
    const t0 = Date.now();
    assert.equal((await fetch(`${d.url}/workspaces/${id}?everything=true`, { method: 'DELETE' })).status, 200);
    assert.ok(Date.now() - t0 < 1500);
    assert.equal((await fetch(`${d.url}/workspaces/${id}`)).status, 404);
  });
});

describe("a workspace's run container", () => {
  it('that died shows in the item: its status and exit code', async () => {
    const { id, item } = await createWorkspace(d.url, { '.jinad': 'run = sleep 3600\n' });
    assert.deepEqual([item.metadata.container_status, item.metadata.container_exit_code], ['running', 0]);
    await d.backend.crash(id, 3);
    const after = (await (await fetch(`${d.url}/workspaces/${id}`)).json()) as any;
    assert.deepEqual([after.state, after.metadata.container_status, after.metadata.container_exit_code], ['ACTIVE', 'exited', 3]);
  });
});

describe('the engine restarts', () => {
  it('every object stops with it; when it is back, each is started again with its object, and run containers too', async () => {
    const { id: ws } = await createWorkspace(d.url, { '.jinad': 'run = sleep 3600\n', 'flow.yml': 'executors:\n  - name: a\n    uses: Hi\n    py_modules: [hi.ts]\n', 'hi.ts': 'export class Hi {}\n' });
    const flow = (await (await fetch(`${d.url}/flows?workspace_id=${ws}&filename=flow.yml`, { method: 'POST' })).json()) as string;
    await d.backend.restartEngine(300);
    const get = async () => (await (await fetch(`${d.url}/flows/${flow}`)).json()) as any;
    /** The Flow as its partial daemon reports it, once the item says running and the object answers. */
    const inside = async () => {
      const item = await get();
      if (item.metadata.status !== 'running' || item.metadata.restarts < 1) return undefined;
      return fetch(`${item.metadata.uri}/flow`).then((r) => (r.ok ? (r.json() as any) : undefined), () => undefined);
    };
    let partial = await inside();
    for (let i = 0; i < 300 && partial?.arguments?.uses !== 'flow.yml'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      partial = await inside();
    }
    assert.equal(partial?.arguments?.uses, 'flow.yml', 'the Flow was started again inside its object');
    const item = await get();
    assert.equal(item.metadata.restarts, 1);
    assert.equal(item.metadata.last_exit.exit_code, 0);
    const wsItem = (await (await fetch(`${d.url}/workspaces/${ws}`)).json()) as any;
    assert.equal(wsItem.metadata.container_status, 'running');
  });
});
