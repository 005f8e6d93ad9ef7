/**
 * Deployments on the real engine, through the `jinad` CLI as a user runs it: a workspace with
 * two Flows and a Pod applied from jinad.deploy.yml; a second apply changes and builds nothing;
 * a changed code file is one build and a rolling update with zero failed requests; a changed
 * `replicas` is a scale; --prune deletes only what the file dropped; a killed member comes back
 * within 5 s; an `always` member removed with `docker rm -f` is made again; bad files change
 * nothing; a daemon restart applies its config's deployments and leaves running ones alone.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { callJson, docker, freePort, retryFetch, startDaemon, type TestDaemon } from './helpers.ts';

const BIN = fileURLToPath(new URL('../src/cli/bin.mjs', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'jinad-deploy-'));
const app = path.join(dir, 'app');
const deployFile = path.join(dir, 'jinad.deploy.yml');
let d: TestDaemon;
let webPort: number;
let apiPort: number;

const greeter = (word: string) => `import { Executor, type RequestContext, requests } from 'jinad';
export class Greeter extends Executor {
  @requests()
  greet({ docs }: RequestContext) {
    for (const d of docs) d.tags.word = '${word}';
  }
}
`;
const flowYaml = (port: string) => `jtype: Flow\nwith:\n  port_expose: \${{ ENV.${port} }}\nexecutors:\n  - name: greet\n    uses: Greeter\n    py_modules: [greeter.ts]\n`;
function declare(opts: { replicas?: number; withApi?: boolean } = {}) {
  const flows: Record<string, unknown> = { web: { file: 'web.yml', envs: { WEB_PORT: String(webPort) }, restart: 'on-failure' } };
  if (opts.withApi !== false) flows.api = { file: 'api.yml', envs: { API_PORT: String(apiPort) }, restart: 'always' };
  writeFileSync(deployFile, YAML.stringify({ deployments: { hello: { workspace: './app', flows, pods: { enc: { uses: 'Greeter', py_modules: ['greeter.ts'], replicas: opts.replicas ?? 1 } } } } }));
}

function cli(args: string[]) {
  const child = spawn(process.execPath, [BIN, '--host', d.url, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, JINAD_TOKEN: '', JINAD_ROOT: d.root } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((r) => child.once('exit', (code) => r({ code, stdout, stderr })));
}
const post = async (port: number) => {
  const res = await fetch(`http://127.0.0.1:${port}/index`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: [{ text: 'x' }] }), signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return ((await res.json()) as any).data.docs[0].tags.word as string;
};
const detail = async () => (await callJson(d.url, 'GET', '/deployments/hello', undefined, d.adminToken)).body;
const builds = async (ws: string) => (await (await fetch(`${d.url}/logs/${ws}`, { headers: { authorization: `Bearer ${d.adminToken}` } })).text()).split('\n').filter((l) => l.includes('Step 1/')).length;

before(async () => {
  [webPort, apiPort] = [await freePort(), await freePort()];
  mkdirSync(app);
  writeFileSync(path.join(app, 'greeter.ts'), greeter('hello'));
  writeFileSync(path.join(app, 'web.yml'), flowYaml('WEB_PORT'));
  writeFileSync(path.join(app, 'api.yml'), flowYaml('API_PORT'));
  declare();
  d = await startDaemon({ config: { auth: true } });
});
after(async () => {
  await d?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('deployments on the engine, through the CLI', () => {
  it('plan shows what would be made (exit 8); apply makes it; a second plan exits 0 and apply builds nothing', async () => {
    const plan = await cli(['plan']);
    assert.equal(plan.code, 8, plan.stderr);
    assert.match(plan.stdout, /\+\s+workspace/);
    assert.match(plan.stdout, /\+\s+flows\.web/);
    const applied = await cli(['apply', '--yes']);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stderr, /hello: \+ flows\.api done \(jflow-/);
    assert.equal(await post(webPort), 'hello');
    assert.equal(await post(apiPort), 'hello');
    const before = await detail();
    const n = await builds(before.workspace_id);
    const again = await cli(['plan']);
    assert.equal(again.code, 0, again.stdout);
    assert.match(again.stdout, /No changes/);
    assert.equal((await cli(['apply', '--yes'])).code, 0);
    assert.equal(await builds(before.workspace_id), n, 'no build');
    assert.deepEqual((await detail()).members, before.members);
  });

  it('a changed code file: one build, the Flows rolling-updated, zero failed requests meanwhile', async () => {
    const ids = Object.fromEntries(Object.entries((await detail()).members).map(([k, m]: [string, any]) => [k, m.id]));
    const n = await builds((await detail()).workspace_id);
    writeFileSync(path.join(app, 'greeter.ts'), greeter('bonjour'));
    let stop = false;
    const failures: string[] = [];
    const words = new Set<string>();
    const load = (async () => {
      while (!stop) {
        try {
          words.add(await post(webPort));
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    })();
    const applied = await cli(['apply', '--yes']);
    const deadline = Date.now() + 10_000;
    while (!words.has('bonjour') && applied.code === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r)); // the load reaches the new code
    stop = true;
    await load;
    assert.equal(applied.code, 0, applied.stderr);
    assert.deepEqual(failures, []);
    assert.equal(await post(webPort), 'bonjour');
    assert.equal(await post(apiPort), 'bonjour');
    assert.ok(words.has('hello') && words.has('bonjour'));
    assert.equal(await builds((await detail()).workspace_id), n + 1, 'one build');
    assert.deepEqual(Object.fromEntries(Object.entries((await detail()).members).map(([k, m]: [string, any]) => [k, m.id])), ids, 'updated in place');
  });

  it('only replicas changed: a scale, no build, same Pod', async () => {
    const before = await detail();
    const n = await builds(before.workspace_id);
    declare({ replicas: 2 });
    const plan = await cli(['plan']);
    assert.match(plan.stdout, /~\s+pods\.enc: scale enc: 1 → 2/);
    assert.equal((await cli(['apply', '--yes'])).code, 0);
    const pod = (await callJson(d.url, 'GET', `/pods/${before.members['pods.enc'].id}`, undefined, d.adminToken)).body;
    assert.equal(pod.arguments.object.arguments.replicas, 2);
    assert.equal(await builds(before.workspace_id), n);
  });

  it('a killed member (on-failure) is restarted within 5 s and answers again; an `always` member removed with docker rm -f is made again', async () => {
    const members = (await detail()).members;
    const t0 = Date.now();
    await docker.engine.getContainer(members['flows.web'].id).kill();
    for (;;) {
      const c = await docker.inspectContainer(members['flows.web'].id);
      if (c?.running && Date.parse(c.startedAt) > t0) break;
      assert.ok(Date.now() - t0 < 5000, 'not restarted within 5 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    await retryFetch(`http://127.0.0.1:${webPort}/`, 30_000);
    await docker.removeContainer(members['flows.api'].id);
    await retryFetch(`http://127.0.0.1:${apiPort}/`, 30_000);
    assert.equal(await post(apiPort), 'bonjour');
    let after = await detail();
    for (let i = 0; i < 100 && (after.drifted || after.members['flows.web'].restarts < 1); i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await detail();
    }
    assert.equal(after.drifted, false);
    assert.equal(after.members['flows.web'].restarts, 1);
    assert.equal(after.members['flows.web'].last_exit.exit_code, 137);
  });

  it('--prune deletes the Flow the file dropped, and nothing else', async () => {
    const before = await detail();
    declare({ replicas: 2, withApi: false });
    const kept = await cli(['apply', '--yes']);
    assert.equal(kept.code, 0);
    assert.match(kept.stderr, /!\s+flows\.api/);
    assert.equal(await post(apiPort), 'bonjour', 'kept without --prune');
    assert.equal((await cli(['apply', '--yes', '--prune'])).code, 0);
    const after = await detail();
    assert.deepEqual(Object.keys(after.members).sort(), ['flows.web', 'pods.enc']);
    assert.equal((await callJson(d.url, 'GET', `/flows/${before.members['flows.api'].id}`, undefined, d.adminToken)).status, 404);
    assert.equal(await docker.inspectContainer(before.members['flows.api'].id), undefined);
    assert.equal(after.members['flows.web'].id, before.members['flows.web'].id);
  });

  it('an invalid file names the key, exits 4 and changes nothing', async () => {
    const before = await detail();
    writeFileSync(path.join(dir, 'bad.yml'), 'deployments:\n  hello:\n    workspace: ./app\n    pods:\n      enc: { uses: Greeter, restart: sometimes }\n');
    const res = await cli(['apply', '--yes', '-f', 'bad.yml']);
    assert.equal(res.code, 4);
    assert.match(res.stderr, /bad\.yml: deployments\.hello\.pods\.enc\.restart: restart must be/);
    assert.deepEqual((await detail()).members, before.members);
  });

  it("a daemon restart applies its config's deployments and leaves the running ones alone", async () => {
    const before = await detail();
    await d.stop();
    const config = { auth: true, deploymentsBase: dir, deployments: YAML.parse((await import('node:fs')).readFileSync(deployFile, 'utf8')).deployments };
    d = await startDaemon({ root: d.root, instance: d.instance, logsPort: d.logsPort, config });
    // The file's deployment is the one the CLI applied: the start compares it and finds it up to date.
    let after = await detail();
    for (let i = 0; i < 200 && !after.last_checked; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = await detail();
    }
    assert.ok(after.last_checked, 'the config deployment was compared at start');
    assert.deepEqual(Object.fromEntries(Object.entries(after.members).map(([k, m]: [string, any]) => [k, m.id])), Object.fromEntries(Object.entries(before.members).map(([k, m]: [string, any]) => [k, m.id])));
    assert.equal(after.members['flows.web'].restarts, before.members['flows.web'].restarts, 'not restarted');
    assert.equal(await post(webPort), 'bonjour');
  });
});
