/**
 * Container limits (fake backend): the daemon's defaults, a workspace's `.jinad`, and an
 * object's create arguments, the most specific winning key by key; bad values are 4xx; an
 * object killed over its memory limit shows it in its live status and in its own log.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { callJson, createWorkspace, startFakeDaemon } from '../helpers.ts';

const MiB = 1024 ** 2;
let d: Awaited<ReturnType<typeof startFakeDaemon>>;
let plain: string;
let limited: string;
before(async () => {
  d = await startFakeDaemon({ config: { containerLimits: { memory: '1g', pids: 512 } } });
  const files = { 'hi.ts': 'export class Hi {}\n', 'flow.yml': 'executors:\n  - name: a\n    uses: Hi\n    py_modules: [hi.ts]\n' };
  plain = (await createWorkspace(d.url, files)).id;
  limited = (await createWorkspace(d.url, { ...files, '.jinad': 'memory = 512m\ncpus = 1.5\n' })).id;
});
after(() => d?.cleanup());

const limitsOf = (id: string) => d.backend.objects.get(id)!.spec.resources;
const pea = (ws: string, args: Record<string, unknown> = {}, query = '') => callJson(d.url, 'POST', `/peas?workspace_id=${ws}${query}`, { uses: 'Hi', py_modules: ['hi.ts'], ...args });

describe('container limits', () => {
  it('daemon defaults, then .jinad, then the create arguments (body or query), key by key', async () => {
    const a = await pea(plain);
    assert.deepEqual(limitsOf(a.body), { memory: 1024 * MiB, pids: 512 });
    const b = await pea(limited);
    assert.deepEqual(limitsOf(b.body), { memory: 512 * MiB, cpus: 1.5, pids: 512 });
    // The item keeps the keys as written (JinaD 2.0's Dict[str, str]), and the parsed values beside.
    const args = (await callJson(d.url, 'GET', `/workspaces/${limited}`)).body.arguments;
    assert.deepEqual(args.jinad, { memory: '512m', cpus: '1.5' });
    assert.deepEqual([args.jinad_parsed.memory, args.jinad_parsed.cpus], [512 * MiB, 1.5]);
    const c = await pea(limited, { memory: '256m', pids: 64, cpus: null });
    assert.deepEqual(limitsOf(c.body), { memory: 256 * MiB, cpus: 1.5, pids: 64 });
    const f = await callJson(d.url, 'POST', `/flows?workspace_id=${plain}&filename=flow.yml&memory=128m&cpus=0.5`);
    assert.equal(f.status, 201, JSON.stringify(f.body));
    assert.deepEqual(limitsOf(f.body), { memory: 128 * MiB, cpus: 0.5, pids: 512 });
    const run = await createWorkspace(d.url, { 'a.txt': 'x', '.jinad': 'run = "sleep 1000"\npids = 100\n' });
    assert.deepEqual(limitsOf(run.id), { memory: 1024 * MiB, pids: 100 });
  });

  it('bad limits are refused with the reason, and nothing runs', async () => {
    const before = d.backend.objects.size;
    for (const [args, query, re] of [
      [{ memory: '1k' }, '', /memory: at least 6m/],
      [{ memory: 'lots' }, '', /memory: expected a size like '512m'/],
      [{ pids: 3 }, '', /pids: expected a whole number of processes, at least 16/],
      [{}, '&cpus=-1', /cpus: expected a number/],
      [{}, '&cpus=0', /cpus: expected a number of CPUs above 0/],
    ] as const) {
      const r = await pea(plain, args, query);
      assert.equal(r.status, 422, JSON.stringify(args) + query);
      assert.match(JSON.stringify(r.body), re);
    }
    assert.equal(d.backend.objects.size, before);
    const bad = await createWorkspace(d.url, { 'a.txt': 'x', '.jinad': 'memory = a lot\n' });
    assert.equal(bad.item.state, 'FAILED');
    assert.match(bad.item.reason, /\.jinad: invalid value for 'memory': expected a size/);
  });

  it('an object killed over its memory limit says so in its item and its log', async () => {
    // Restart policy no: it stays as the kill left it (with on-failure it would be running again
    // within 50 ms, and a busy machine could miss that moment).
    const p = (await pea(plain, { restart: 'no' })).body as string;
    await d.backend.crash(p, 137, { oom: true });
    let item: any;
    for (let i = 0; i < 250 && !item?.metadata.oom_killed; i++) {
      item = (await callJson(d.url, 'GET', `/peas/${p}`)).body;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual([item.metadata.status, item.metadata.exit_code, item.metadata.oom_killed], ['exited', 137, true]);
    const log = await (await fetch(`${d.url}/logs/${p}`)).text();
    assert.match(log, /killed for going over its memory limit \(OOM, exit code 137\)/);
    const other = (await pea(plain)).body as string;
    assert.equal((await callJson(d.url, 'GET', `/peas/${other}`)).body.metadata.oom_killed, false);
  });
});
