/**
 * The client library and the `jinad` CLI against a real daemon on real Docker: the lifecycle of
 * a workspace, a Flow, a Pod and a Pea; folders keep their paths; a failing build shows its
 * reason and exit code; `logs -f` follows.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { InvalidError, JinaDClient, NotFoundError, WorkspaceFailedError } from '../src/client/index.ts';
import { startDaemon, type TestDaemon } from './helpers.ts';

const BIN = fileURLToPath(new URL('../src/cli/bin.mjs', import.meta.url));
const fixture = (f: string) => fileURLToPath(new URL(`./fixtures/runtime/${f}`, import.meta.url));
let d: TestDaemon;
let project: string;
before(async () => {
  d = await startDaemon({ config: { auth: true } });
  // A project folder with a sub-folder, as a user would upload it.
  project = path.join(mkdtempSync(path.join(tmpdir(), 'jinad-cli-')), 'project');
  mkdirSync(path.join(project, 'execs'), { recursive: true });
  writeFileSync(path.join(project, 'execs', 'executors.ts'), readFileSync(fixture('executors.ts')));
  writeFileSync(path.join(project, 'talkers.ts'), readFileSync(fixture('talkers.ts')));
  writeFileSync(path.join(project, 'flow.yml'), 'jtype: Flow\nexecutors:\n  - name: tag\n    uses: Tagger\n    py_modules: [execs/executors.ts]\n  - name: talker\n    uses: Talker\n    py_modules: [talkers.ts]\n');
});
after(() => d?.cleanup());

/** The CLI as a user on the daemon's machine runs it: it finds the admin token in the daemon's root by itself. */
function cli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, '--host', d.url, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, JINAD_TOKEN: '', JINAD_ROOT: d.root, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((r) => child.once('exit', (code) => r({ code, stdout, stderr })));
  const seen = async (re: RegExp, ms = 15_000) => {
    const t0 = Date.now();
    while (!re.test(stdout)) {
      if (Date.now() - t0 > ms) throw new Error(`no ${re} in ${stdout}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { child, done, seen };
}
const run = (args: string[], env?: Record<string, string>) => cli(args, env).done;

describe('jinad CLI', () => {
  it('ws create of a folder keeps its paths, shows the upload and the build live, ends with the state', async () => {
    const r = await run(['ws', 'create', project]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /uploading [\d.]+ (B|KiB)/);
    assert.match(r.stderr, /│ Step 1\/\d+ : FROM jinad-runtime/);
    const [id, state] = r.stdout.trim().split(' ');
    assert.equal(state, 'ACTIVE');
    const got = JSON.parse((await run(['--json', 'ws', 'get', id!])).stdout);
    assert.deepEqual(got.arguments.files.sort(), ['execs/executors.ts', 'flow.yml', 'talkers.ts']);
    assert.match((await run(['ws', 'ls'])).stdout, new RegExp(`${id}\\s+ACTIVE`));

    // A Flow: create, list, scale, logs, follow, delete.
    const created = await run(['--json', 'flow', 'create', id!, 'flow.yml']);
    assert.equal(created.code, 0, created.stderr);
    const { id: flowId, ports } = JSON.parse(created.stdout);
    const gw = ports['8080/tcp'];
    assert.match((await run(['flow', 'ls'])).stdout, new RegExp(`${flowId}\\s+${id}\\s+running`));
    assert.equal((await run(['flow', 'scale', flowId, 'tag', '2'])).code, 0);
    // `--since` a moment before the request: the line is in the tail if the follower subscribes
    // after it was written, and among the new lines otherwise (no race, no sleep).
    const since = new Date(Date.now() - 1).toISOString();
    const follower = cli(['logs', '-f', '--since', since, flowId]);
    await fetch(`http://127.0.0.1:${gw}/index`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: ['from the cli test'] }) });
    await follower.seen(/talk: from the cli test/);
    follower.child.kill('SIGINT');
    await follower.done;
    assert.match((await run(['logs', '--tail', '3', flowId])).stdout, /talk: from the cli test/);
    assert.equal((await run(['flow', 'update', flowId, 'tag', '--uses-with', '{"tag": "new"}'])).code, 0);
    assert.equal((await run(['flow', 'rm', flowId])).code, 0);
    const gone = await run(['flow', 'get', flowId]);
    assert.equal(gone.code, 3);
    assert.match(gone.stderr, /not found in flow store/);

    // A Pod and a Pea.
    const pod = await run(['--json', 'pod', 'create', id!, '--uses', 'ReplicaTagger', '--py-modules', 'execs/executors.ts', '--replicas', '2']);
    assert.equal(pod.code, 0, pod.stderr);
    const podId = JSON.parse(pod.stdout).id;
    assert.equal((await run(['pod', 'scale', podId, '3'])).code, 0);
    assert.equal((await run(['pod', 'update', podId, '--uses-with', '{"version": "v2"}'])).code, 0);
    assert.equal((await run(['pod', 'rm', podId])).code, 0);
    const pea = await run(['pea', 'create', id!, '--uses', 'Tagger', '--py-modules', 'execs/executors.ts']);
    assert.equal(pea.code, 0, pea.stderr);
    assert.match((await run(['pea', 'ls'])).stdout, /jpea-/);
    assert.equal((await run(['ws', 'rm', id!])).code, 0);
    assert.equal((await run(['ws', 'get', id!])).code, 3);
  });

  it('a failing build shows its reason and exits 5; bad input exits 4; usage errors exit 2', async () => {
    const bad = path.join(mkdtempSync(path.join(tmpdir(), 'jinad-bad-')), '.jinad');
    writeFileSync(bad, 'ports = eighty\n');
    const r = await run(['ws', 'create', bad]);
    assert.equal(r.code, 5);
    assert.match(r.stderr, /FAILED: \.jinad: invalid value for 'ports': 'eighty' is not a port number/);
    assert.equal((await run(['flow', 'create', 'not-an-id', 'x.yml'])).code, 4);
    assert.equal((await run(['flow', 'update', 'jflow-00000000-0000-4000-8000-000000000000', 'x', '--uses-with', 'not json'])).code, 4);
    assert.equal((await run(['ws', 'frobnicate'])).code, 2);
    const unreachable = spawn(process.execPath, [BIN, '--host', 'http://127.0.0.1:1', 'status']);
    assert.equal(await new Promise((r) => unreachable.once('exit', r)), 6);
  });
});

describe('tokens from the CLI', () => {
  it('token create (--json), a read token cannot write (exit 7), ls, rm, audit', async () => {
    const made = await run(['--json', 'token', 'create', '--name', 'ci-read', '--scope', 'read', '--expires', '30d']);
    assert.equal(made.code, 0, made.stderr);
    const { token, scope, expires } = JSON.parse(made.stdout);
    assert.equal(scope, 'read');
    assert.ok(Date.parse(expires) > Date.now());
    assert.equal((await run(['ws', 'ls'], { JINAD_TOKEN: token })).code, 0);
    const denied = await run(['ws', 'rm', 'jworkspace-1a2b3c4d-0000-4000-8000-000000000000'], { JINAD_TOKEN: token });
    assert.equal(denied.code, 7);
    assert.match(denied.stderr, /'read' scope; DELETE \/workspaces\/\S+ needs 'write'/);
    const bad = await run(['ws', 'ls'], { JINAD_TOKEN: 'nonsense' });
    assert.equal(bad.code, 7);
    assert.match(bad.stderr, /not valid/);
    assert.match((await run(['token', 'ls'])).stdout, /ci-read\s+read/);
    assert.equal((await run(['token', 'rm', 'ci-read'])).code, 0);
    assert.equal((await run(['ws', 'ls'], { JINAD_TOKEN: token })).code, 7);
    assert.match((await run(['audit', '-n', '5'])).stdout, /admin\s+127\.0\.0\.1\s+DELETE \/tokens\/ci-read\s+200/);
    assert.match((await run(['audit'])).stdout, /ci-read\s+127\.0\.0\.1\s+DELETE \/workspaces\/\S+\s+403/);
  });
});

describe('client library', () => {
  it('the whole lifecycle, with typed errors', async () => {
    const jinad = new JinaDClient(d.url, { root: d.root }); // the local admin token, found by itself
    assert.equal(await jinad.alive(), true);
    assert.equal(await new JinaDClient('http://127.0.0.1:1').alive(), false);
    const lines: string[] = [];
    const ws = await jinad.workspaces.create([fixture('executors.ts'), fixture('seq.yml')], { onLog: (l) => lines.push(l.message) });
    assert.ok(lines.some((l) => l === 'workspace is ACTIVE'), 'build lines were yielded');
    const flow = await jinad.flows.create(ws, 'seq.yml');
    assert.equal((await jinad.flows.get(flow)).metadata.status, 'running');
    assert.ok(flow in (await jinad.flows.list()).items);
    assert.equal((await jinad.flows.arguments()).uses?.title, 'Uses');
    assert.equal(await jinad.flows.scale(flow, 'first', 2), flow);
    const logs: string[] = [];
    for await (const l of jinad.logs(flow, { tail: 5 })) logs.push(l.message);
    assert.ok(logs.length > 0);
    const pod = await jinad.pods.create(ws, { uses: 'Tagger', py_modules: ['executors.ts'] });
    const pea = await jinad.peas.create(ws, { uses: 'Tagger', py_modules: ['executors.ts'] });
    await jinad.pods.clear();
    await jinad.peas.delete(pea);
    await assert.rejects(jinad.pods.get(pod), NotFoundError);
    await assert.rejects(jinad.flows.create('bad', 'seq.yml'), InvalidError);
    const badJinad = path.join(mkdtempSync(path.join(tmpdir(), 'jinad-client-')), '.jinad');
    writeFileSync(badJinad, 'ports = none\n');
    await assert.rejects(
      jinad.workspaces.create([badJinad]),
      (e: Error) => e instanceof WorkspaceFailedError && /invalid value for 'ports'/.test(e.reason) && e.logTail.length > 0,
    );
    await jinad.flows.clear();
    await jinad.workspaces.clear();
    assert.deepEqual((await jinad.workspaces.list()).items, {});
  });
});
