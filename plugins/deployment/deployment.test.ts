/**
 * Deployments on the fake backend, through the client as the CLI uses it: plan, apply, a second
 * apply that changes nothing, scale / rolling_update / replace as the file changes, prune,
 * drift, bad files, and the deployments of the daemon's own config at start.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { JinaDClient } from '../../src/client/index.ts';
import { SCHEMA_FILE } from '../../src/deploy/schema.ts';
import { DeploymentFileError, loadDeploymentsFile, resolveDeployment } from '../../src/deploy/source.ts';
import { callJson, startFakeDaemon } from '../../test/helpers.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'jinad-deploy-'));
const FLOW = 'executors:\n  - name: hi\n    uses: Hi\n    py_modules: [hi.ts]\n';
let d: Awaited<ReturnType<typeof startFakeDaemon>>;
let client: JinaDClient;

function files(hi = 'export class Hi {}\n') {
  writeFileSync(path.join(dir, 'app', 'flow.yml'), FLOW);
  writeFileSync(path.join(dir, 'app', 'hi.ts'), hi);
}
/** Write jinad.deploy.yml with these deployments and resolve the one named `hello`. */
async function declare(deployments: Record<string, unknown>) {
  const file = path.join(dir, 'jinad.deploy.yml');
  writeFileSync(file, YAML.stringify({ deployments }));
  const declared = await loadDeploymentsFile(file);
  return resolveDeployment('hello', declared.hello!, dir, { GREETING: 'hi' }, file);
}
const base = (pods: Record<string, unknown> = { enc: { uses: 'Hi', py_modules: ['hi.ts'], replicas: 1 } }, flows: Record<string, unknown> = { web: { file: 'flow.yml', envs: { GREETING: '${{ ENV.GREETING }}' } } }) => ({
  hello: { workspace: './app', flows, pods },
});
const actions = (plan: { changes: { target: string; action: string }[] }) => Object.fromEntries(plan.changes.map((c) => [c.target, c.action]));

before(async () => {
  rmSync(path.join(dir, 'app'), { recursive: true, force: true });
  (await import('node:fs')).mkdirSync(path.join(dir, 'app'));
  files();
  d = await startFakeDaemon({ config: { readyTimeoutMs: 3000 } });
  client = new JinaDClient(d.url);
});
after(async () => {
  await d?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('deployments', () => {
  let web: string;
  let enc: string;
  let wsTime: string;

  it('plan of a new deployment: everything to create, every file to upload; nothing changes', async () => {
    const r = await declare(base());
    const plan = await client.deployments.plan('hello', r.desired);
    assert.equal(plan.pending, true);
    assert.deepEqual(actions(plan), { workspace: 'create', 'flows.web': 'create', 'pods.enc': 'create' });
    assert.deepEqual(plan.upload.sort(), ['flow.yml', 'hi.ts']);
    assert.equal(Object.keys((await callJson(d.url, 'GET', '/workspaces')).body.items).length, 0);
  });

  it('apply makes the workspace and the members, reporting each step', async () => {
    const steps: string[] = [];
    const plan = await client.deployments.apply('hello', await declare(base()), { onProgress: (p) => steps.push(`${p.target} ${p.status}`) });
    assert.deepEqual(steps, ['workspace started', 'workspace done', 'flows.web started', 'flows.web done', 'pods.enc started', 'pods.enc done']);
    const detail = await client.deployments.get('hello');
    assert.equal(detail.workspace_id, plan.workspace_id);
    assert.equal(detail.workspace.state, 'ACTIVE');
    assert.deepEqual(Object.values(detail.members).map((m) => [m.actual, m.drifted]), [['running', false], ['running', false]]);
    web = detail.members['flows.web']!.id;
    enc = detail.members['pods.enc']!.id;
    const flow = (await callJson(d.url, 'GET', `/flows/${web}`)).body;
    assert.deepEqual([flow.arguments.envs, flow.metadata.restart], [{ GREETING: 'hi' }, 'on-failure']);
    wsTime = (await client.workspaces.get(detail.workspace_id)).time_updated;
  });

  it('a second apply of the same file changes nothing and builds nothing', async () => {
    const r = await declare(base());
    const plan = await client.deployments.plan('hello', r.desired);
    assert.equal(plan.pending, false);
    assert.deepEqual(plan.upload, []);
    await client.deployments.apply('hello', r);
    const detail = await client.deployments.get('hello');
    assert.deepEqual([detail.members['flows.web']!.id, detail.members['pods.enc']!.id], [web, enc]);
    assert.equal((await client.workspaces.get(detail.workspace_id)).time_updated, wsTime);
  });

  it('only replicas changed: a scale, same object, no upload', async () => {
    const r = await declare(base({ enc: { uses: 'Hi', py_modules: ['hi.ts'], replicas: 2 } }));
    const plan = await client.deployments.plan('hello', r.desired);
    assert.deepEqual(actions(plan), { workspace: 'unchanged', 'flows.web': 'unchanged', 'pods.enc': 'update' });
    assert.match(plan.changes.find((c) => c.target === 'pods.enc')!.details.join(), /scale enc: 1 → 2/);
    assert.deepEqual(plan.upload, []);
    await client.deployments.apply('hello', r);
    const pod = (await callJson(d.url, 'GET', `/pods/${enc}`)).body;
    assert.equal(pod.arguments.object.arguments.replicas, 2);
  });

  it('a code file changed: one upload, and every executor rolling-updated in place', async () => {
    files('export class Hi { v = 2 }\n');
    const r = await declare(base({ enc: { uses: 'Hi', py_modules: ['hi.ts'], replicas: 2 } }));
    const plan = await client.deployments.plan('hello', r.desired);
    assert.deepEqual(actions(plan), { workspace: 'update', 'flows.web': 'update', 'pods.enc': 'update' });
    assert.deepEqual(plan.upload, ['hi.ts']);
    await client.deployments.apply('hello', r);
    const detail = await client.deployments.get('hello');
    assert.deepEqual([detail.members['flows.web']!.id, detail.members['pods.enc']!.id], [web, enc]);
    assert.notEqual((await client.workspaces.get(detail.workspace_id)).time_updated, wsTime);
  });

  it('an env changed: the Flow is replaced; the plan names the env, never its value', async () => {
    const r = await declare(base({ enc: { uses: 'Hi', py_modules: ['hi.ts'], replicas: 2 } }, { web: { file: 'flow.yml', envs: { GREETING: 'top-secret-value' } } }));
    const plan = await client.deployments.plan('hello', r.desired);
    assert.equal(actions(plan)['flows.web'], 'replace');
    assert.match(JSON.stringify(plan), /env GREETING changed/);
    assert.doesNotMatch(JSON.stringify(plan), /top-secret-value/);
    await client.deployments.apply('hello', r);
    const now = (await client.deployments.get('hello')).members['flows.web']!.id;
    assert.notEqual(now, web);
    assert.equal((await callJson(d.url, 'GET', `/flows/${web}`)).status, 404);
    web = now;
  });

  it('an idle_timeout set: the Flow is replaced with it; asleep, it is not drift', async () => {
    const r = await declare(base({ enc: { uses: 'Hi', py_modules: ['hi.ts'], replicas: 2 } }, { web: { file: 'flow.yml', envs: { GREETING: 'top-secret-value' }, idle_timeout: 0.3 } }));
    const plan = await client.deployments.plan('hello', r.desired);
    assert.equal(actions(plan)['flows.web'], 'replace');
    assert.match(JSON.stringify(plan), /idle_timeout changed/);
    await client.deployments.apply('hello', r);
    web = (await client.deployments.get('hello')).members['flows.web']!.id;
    assert.equal((await callJson(d.url, 'GET', `/flows/${web}`)).body.metadata.idle_timeout, 0.3);
    let member = (await client.deployments.get('hello')).members['flows.web']!;
    for (let i = 0; i < 200 && member.actual !== 'idle'; i++) {
      await new Promise((res) => setTimeout(res, 25));
      member = (await client.deployments.get('hello')).members['flows.web']!;
    }
    assert.deepEqual([member.actual, member.drifted], ['idle', false]);
    assert.equal((await client.deployments.plan('hello', r.desired)).pending, false, 'asleep is as declared');
  });

  it('a member left out: kept without --prune, deleted with it; nothing else touched', async () => {
    const r = await declare(base({ enc: { uses: 'Hi', py_modules: ['hi.ts'], replicas: 2 } }, {}));
    const other = await client.flows.create((await client.deployments.get('hello')).workspace_id, 'flow.yml');
    assert.equal(actions(await client.deployments.plan('hello', r.desired))['flows.web'], 'orphan');
    await client.deployments.apply('hello', r);
    assert.equal((await callJson(d.url, 'GET', `/flows/${web}`)).status, 200);
    const plan = await client.deployments.plan('hello', r.desired, true);
    assert.equal(actions(plan)['flows.web'], 'delete');
    await client.deployments.apply('hello', r, { prune: true });
    assert.equal((await callJson(d.url, 'GET', `/flows/${web}`)).status, 404);
    assert.equal((await callJson(d.url, 'GET', `/flows/${other}`)).status, 200, 'an object the file did not make stays');
    assert.equal((await callJson(d.url, 'GET', `/pods/${enc}`)).status, 200);
    await client.flows.delete(other);
  });

  it('drift: a member deleted behind the deployment shows drifted, and the next apply brings it back', async () => {
    assert.equal((await callJson(d.url, 'DELETE', `/pods/${enc}`)).status, 200);
    const detail = await client.deployments.get('hello');
    assert.deepEqual([detail.drifted, detail.members['pods.enc']!.actual], [true, 'deleted']);
    const r = await declare(base({ enc: { uses: 'Hi', py_modules: ['hi.ts'], replicas: 2 } }, {}));
    assert.equal(actions(await client.deployments.plan('hello', r.desired))['pods.enc'], 'create');
    await client.deployments.apply('hello', r);
    const back = await client.deployments.get('hello');
    assert.equal(back.drifted, false);
    enc = back.members['pods.enc']!.id;
  });

  it('bad files name the file, the key and the reason, and change nothing', async () => {
    const file = path.join(dir, 'bad.yml');
    const bad = async (doc: string, pattern: RegExp) => {
      writeFileSync(file, doc);
      await assert.rejects(
        async () => {
          const declared = await loadDeploymentsFile(file);
          resolveDeployment('hello', declared.hello!, dir, {}, file);
        },
        (e: Error) => e instanceof DeploymentFileError && pattern.test(e.message) && e.message.includes('bad.yml'),
      );
    };
    await bad('deployments:\n  hello:\n    workspace: ./app\n    flows:\n      web: { file: flow.yml, restart: sometimes }\n', /deployments\.hello\.flows\.web\.restart: restart must be/);
    await bad('deployments:\n  hello:\n    workspace: ./app\n    flowz: {}\n', /deployments\.hello\.flowz/);
    await bad('deployments:\n  Hello!: { workspace: ./app }\n', /names are lower-case/);
    await bad('deployments:\n  hello: { workspace: ./nowhere }\n', /deployments\.hello\.workspace/);
    await bad('deployments:\n  hello:\n    workspace: ./app\n    flows:\n      web: { file: missing.yml }\n', /flows\.web\.file: missing\.yml is not one of/);
    await bad('deployments:\n  hello:\n    workspace: ./app\n    flows:\n      web: { file: flow.yml, envs: { A: "${{ ENV.UNSET_X }}" } }\n', /flows\.web\.envs\.A: references \$\{\{ ENV\.UNSET_X \}\}/);
    await bad('a: &a [1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n', /not valid YAML|alias/i);
  });

  it('the API refuses an apply without the files it needs, a malformed deployment, a bad name; nothing changes', async () => {
    const before = await client.deployments.get('hello');
    const put = async (name: string, deployment: string) => {
      const form = new FormData();
      form.append('deployment', deployment);
      return fetch(`${d.url}/deployments/${name}`, { method: 'PUT', body: form });
    };
    const r = await declare(base({ enc: { uses: 'Hi', py_modules: ['hi.ts'], replicas: 2 } }, {}));
    const missing = await put('other', JSON.stringify(r.desired));
    assert.equal(missing.status, 400);
    assert.match(((await missing.json()) as any).detail, /needs these files uploaded/);
    assert.equal((await put('hello', '{not json')).status, 400);
    assert.equal((await put('hello', JSON.stringify({ files: {} }))).status, 422);
    assert.equal((await put('Bad!', JSON.stringify(r.desired))).status, 422);
    const forged = await callJson(d.url, 'POST', '/deployments/plan', { name: 'hello', deployment: { ...r.desired, sources: { 'flow.yml': 'executors: []\n' } } });
    assert.equal(forged.status, 422);
    assert.match(JSON.stringify(forged.body.detail), /sources\.flow\.yml: not the content/);
    assert.equal((await callJson(d.url, 'GET', '/deployments/other')).status, 404);
    assert.deepEqual((await client.deployments.get('hello')).members, before.members);
    const schema = (await callJson(d.url, 'GET', '/deployments/schema.json')).body;
    assert.ok(schema.properties.deployments);
    assert.deepEqual(schema, JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')), 'docs/jinad.deploy.schema.json is current (npm run schema)');
  });

  it('DELETE removes its objects and its workspace', async () => {
    const detail = await client.deployments.get('hello');
    await client.deployments.remove('hello');
    assert.equal((await callJson(d.url, 'GET', `/pods/${enc}`)).status, 404);
    assert.equal((await callJson(d.url, 'GET', `/workspaces/${detail.workspace_id}`)).status, 404);
    assert.equal((await callJson(d.url, 'GET', '/deployments/hello')).status, 404);
  });
});

describe("deployments of the daemon's own config", () => {
  it('are applied at start, and a restart leaves them running as they are', async () => {
    const config = { deployments: base(undefined, { web: { file: 'flow.yml', envs: { GREETING: 'hi' } } }), deploymentsBase: dir, readyTimeoutMs: 3000 } as const;
    const daemon = await startFakeDaemon({ config: config as never });
    try {
      const until = async (url = daemon.url) => {
        for (let i = 0; i < 200; i++) {
          const res = await callJson(url, 'GET', '/deployments/hello');
          if (res.status === 200 && Object.keys(res.body.members).length === 2) return res.body;
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.fail('the config deployment was not applied');
      };
      const first = await until();
      assert.equal(first.source, 'config');
      // Its plan, computed by the daemon from its own config: up to date, then a file changed.
      const planOf = async (url = daemon.url) => (await callJson(url, 'GET', '/deployments/hello/plan')).body;
      assert.equal((await planOf()).pending, false);
      files('export class Hi { changed = true }\n');
      const plan = await planOf();
      assert.deepEqual([plan.pending, plan.upload], [true, ['hi.ts']]);
      files('export class Hi { v = 2 }\n'); // as applied
      assert.equal((await callJson(daemon.url, 'GET', '/deployments/nope/plan')).status, 404);
      await daemon.stop();
      const again = await startFakeDaemon({ backend: daemon.backend, root: daemon.root, instance: daemon.instance, logsPort: daemon.logsPort, config: config as never });
      try {
        const second = await until(again.url);
        assert.deepEqual(second.members['flows.web'].id, first.members['flows.web'].id);
        assert.equal(second.members['flows.web'].restarts, 0);
        assert.equal(second.time_updated, first.time_updated, 'nothing was applied: it was up to date');
      } finally {
        await again.stop();
      }
    } finally {
      await daemon.cleanup();
    }
  });
});
