/**
 * The object lifecycle on the fake backend (no Docker Engine): workspaces build, Flows/Pods/Peas
 * start, wait for readiness, fail with the cause, update, delete, reconcile after a restart,
 * and a kind added from a plugin folder works end to end.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { callJson, createWorkspace, filesForm, freePort, startFakeDaemon, waitForState } from '../helpers.ts';

const worker = fileURLToPath(new URL('../fixtures/plugins/worker', import.meta.url));
const FLOW = 'jtype: Flow\nexecutors:\n  - name: hi\n    uses: Hi\n    py_modules: [hi.ts]\n    uses_with:\n      home: ${{ ENV.HOME }}\n';
const FILES = { 'flow.yml': FLOW, 'fixed.yml': `with:\n  port_expose: \${{ ENV.PORT }}\n${FLOW.slice('jtype: Flow\n'.length)}`, 'hi.ts': 'export class Hi {}\n', 'bad.yml': 'executors:\n  - name: x\n    replicas: many\n', 'envs.yml': 'with:\n  name: ${{ ENV.PATH }}\n' };

let d: Awaited<ReturnType<typeof startFakeDaemon>>;
let ws: string;
before(async () => {
  d = await startFakeDaemon({ config: { extraPlugins: [worker], readyTimeoutMs: 2000 } });
  const created = await createWorkspace(d.url, FILES);
  assert.equal(created.item.state, 'ACTIVE', created.item.reason);
  ws = created.id;
});
after(() => d?.cleanup());

const api = (method: string, path: string, body?: unknown) => callJson(d.url, method, path, body);
const flowQuery = (file: string, envs: string[] = []) => `/flows?${new URLSearchParams([['workspace_id', ws], ['filename', file], ...envs.map((e) => ['envs', e])])}`;

describe('objects on the fake backend', () => {
  it('a workspace builds: image, network, item', async () => {
    const item = (await api('GET', `/workspaces/${ws}`)).body;
    assert.equal(item.metadata.image_name, `jworkspace:${ws.slice('jworkspace-'.length)}`);
    assert.ok(d.backend.images.has(item.metadata.image_name));
    assert.ok(d.backend.networks.has(ws));
  });

  it('a Flow starts with its fixed port, the request envs and the object env; GET is live; DELETE removes it', async () => {
    const port = await freePort();
    const r = await api('POST', `${flowQuery('fixed.yml', [`PORT=${port}`])}&restart=no`);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const id = r.body as string;
    const item = (await api('GET', `/flows/${id}`)).body;
    assert.equal(item.metadata.restart, 'no');
    assert.equal(item.metadata.status, 'running');
    assert.equal(item.metadata.ports[`${port}/tcp`], port);
    assert.equal(item.arguments.filename, 'fixed.yml');
    assert.deepEqual(item.arguments.envs, { PORT: String(port) });
    assert.equal((await fetch(`${item.metadata.uri}/flow`).then((x) => x.json()) as any).arguments.uses, 'fixed.yml');
    assert.deepEqual((await api('GET', `/workspaces/${ws}`)).body.metadata.managed_objects, [id]);
    await d.backend.crash(id, 137);
    assert.deepEqual([(await api('GET', `/flows/${id}`)).body.metadata.status, (await api('GET', `/flows/${id}`)).body.metadata.exit_code], ['exited', 137]);
    assert.equal((await api('DELETE', `/flows/${id}`)).status, 200);
    assert.equal((await api('GET', `/flows/${id}`)).status, 404);
    assert.equal(d.backend.objects.has(id), false);
  });

  it("a Flow YAML sees the request's envs and the object's, never the daemon's", async () => {
    const r = await api('POST', flowQuery('envs.yml'));
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'invalid_definition');
    assert.match(r.body.detail, /envs\.yml: with\.name: environment variable PATH is not set/);
    assert.doesNotMatch(JSON.stringify(r.body), new RegExp(process.env.PATH!.split(':')[0]!.replaceAll('/', '\\/')));
    assert.equal((await api('POST', flowQuery('envs.yml', ['PATH=/x']))).status, 201);
  });

  it('a start that fails answers 400 with the cause and the last lines, and leaves nothing', async () => {
    const before = d.backend.objects.size;
    const failing = await api('POST', flowQuery('flow.yml', ['JINAD_FAKE=fail:cannot import Hi']));
    assert.equal(failing.status, 400);
    assert.equal(failing.body.code, 'object_start_failed');
    assert.equal(failing.body.detail, 'cannot import Hi');
    assert.ok(failing.body.body.some((l: string) => /--- last lines of container jflow-/.test(l)));
    const exited = await api('POST', flowQuery('flow.yml', ['JINAD_FAKE=exit:3']));
    assert.equal(exited.status, 400);
    assert.match(exited.body.detail, /the flow stopped before it was ready \(exit code 3\)/);
    const silent = await api('POST', flowQuery('flow.yml', ['JINAD_FAKE=silent']));
    assert.equal(silent.status, 400);
    assert.match(silent.body.detail, /did not answer within 2 s/);
    assert.equal(d.backend.objects.size, before);
  });

  it('bad input is a clear 4xx with a domain code, and starts nothing', async () => {
    const before = d.backend.objects.size;
    const cases: [string, string, unknown, number, string][] = [
      ['POST', flowQuery('bad.yml'), undefined, 400, 'invalid_definition'],
      ['POST', flowQuery('nope.yml'), undefined, 404, 'file_not_found'],
      ['POST', flowQuery('../x.yml'), undefined, 400, 'invalid_definition'],
      ['POST', `/flows?workspace_id=jworkspace-00000000-0000-4000-8000-000000000001&filename=flow.yml`, undefined, 404, 'workspace_not_found'],
      ['POST', `/flows?workspace_id=${ws}&filename=flow.yml&envs=NOEQUALS`, undefined, 422, 'invalid_request'],
      ['POST', `/pods?workspace_id=${ws}`, { uses: 'Hi', py_modules: ['hi.py'] }, 400, 'invalid_definition'],
      ['PUT', `/flows/scale/jflow-00000000-0000-4000-8000-000000000001?pod_name=x&replicas=2`, undefined, 404, 'object_not_found'],
      ['GET', '/peas/jpod-00000000-0000-4000-8000-000000000001', undefined, 422, 'invalid_request'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const r = await api(method, path, body);
      assert.deepEqual([r.status, r.body.code], [status, code], `${method} ${path}: ${JSON.stringify(r.body)}`);
    }
    assert.equal(d.backend.objects.size, before);
  });

  it('a Pod scales and rolls through its partial daemon; a Pea has no updates', async () => {
    const pod = (await api('POST', `/pods?workspace_id=${ws}`, { name: 'p', uses: 'Hi', py_modules: ['hi.ts'], replicas: 2 })).body;
    assert.match(pod, /^jpod-/);
    assert.equal((await api('PUT', `/pods/scale/${pod}?replicas=3`)).status, 200);
    assert.equal((await api('GET', `/pods/${pod}`)).body.arguments.object.arguments.replicas, 3);
    assert.equal((await api('PUT', `/pods/rolling_update/${pod}`, { v: 2 })).status, 200);
    const pea = (await api('POST', `/peas?workspace_id=${ws}`, { uses: 'Hi', py_modules: ['hi.ts'] })).body;
    assert.equal((await api('PUT', `/peas/scale/${pea}?replicas=2`)).status, 404);
    assert.ok((await api('GET', '/peas/arguments')).body.uses.title);
  });

  it('JinaD 2.0 payloads: null is unset, identity is the new id; the era-A update route works beside the later two', async () => {
    // As Jina's argument parser builds a payload: a null for every option not given.
    const nulls = { name: 'legacy', uses: 'Hi', py_modules: ['hi.ts'], uses_with: null, env: null, port_in: null, replicas: null, uses_metas: null, workspace_id: null };
    const pod = await api('POST', `/pods?workspace_id=${ws}`, nulls);
    assert.equal(pod.status, 201, JSON.stringify(pod.body));
    const args = (await api('GET', `/pods/${pod.body}`)).body.arguments.object.arguments;
    assert.equal(args.identity, pod.body);
    assert.equal(args.uses_with, undefined);
    const pea = await api('POST', `/peas?workspace_id=${ws}`, { uses: 'Hi', py_modules: ['hi.ts'], identity: 'mine', env: null });
    assert.equal((await api('GET', `/peas/${pea.body}`)).body.arguments.object.arguments.identity, pea.body);

    assert.deepEqual(await api('PUT', `/pods/${pod.body}?kind=scale&replicas=3`), { status: 200, body: pod.body });
    assert.equal((await api('GET', `/pods/${pod.body}`)).body.arguments.object.arguments.replicas, 3);
    assert.deepEqual(await api('PUT', `/pods/${pod.body}?kind=rolling_update&dump_path=/tmp/dump&shards=1`, { v: 3 }), { status: 200, body: pod.body });
    assert.equal((await api('GET', `/pods/${pod.body}`)).body.arguments.object.arguments.uses_with.dump_path, '/tmp/dump');
    const flow = (await api('POST', flowQuery('flow.yml', ['HOME=/x']))).body;
    assert.deepEqual(await api('PUT', `/flows/${flow}?kind=rolling_update&pod_name=hi`, { v: 1 }), { status: 200, body: flow });
    for (const [route, loc] of [[`/flows/${flow}?kind=rolling_update`, 'pod_name'], [`/pods/${pod.body}?kind=scale`, 'replicas'], [`/pods/${pod.body}?kind=nothing`, 'kind']] as const) {
      const r = await api('PUT', route);
      assert.equal(r.status, 422, route);
      assert.ok(JSON.stringify(r.body.detail).includes(loc), JSON.stringify(r.body));
    }
    assert.equal((await api('PUT', `/peas/${pea.body}?kind=scale&replicas=2`)).status, 404);
  });

  it("Jina's enum arguments are checked against Jina's choices; placement keys do not make a Pod remote", async () => {
    // As a Jina 2 client sends them: names in any case, or the enums' numbers; host/port_jinad of the daemon itself.
    const jina = { uses: 'Hi', py_modules: ['hi.ts'], pea_role: 'SINGLETON', polling: 'any', scheduling: 1, runtime_backend: 'PROCESS', socket_in: 'PULL_BIND', socket_out: 3, on_error_strategy: 'IGNORE', host: '0.0.0.0', port_jinad: 8000 };
    const pod = await api('POST', `/pods?workspace_id=${ws}`, jina);
    assert.equal(pod.status, 201, JSON.stringify(pod.body));
    const args = (await api('GET', `/pods/${pod.body}`)).body.arguments.object.arguments;
    assert.deepEqual([args.host, args.port_jinad], [undefined, undefined], 'runs here, not as a remote executor');
    const before = d.backend.objects.size;
    for (const [key, bad] of [['polling', 'SOMETIMES'], ['pea_role', 'BOSS'], ['socket_out', 99], ['runtime_backend', 'GREEN_THREAD']] as const) {
      const r = await api('POST', `/pods?workspace_id=${ws}`, { ...jina, [key]: bad });
      assert.equal(r.status, 422, `${key}=${bad}`);
      assert.match(JSON.stringify(r.body.detail), new RegExp(`${key} must be one of`));
    }
    assert.equal(d.backend.objects.size, before, 'nothing started');
    await api('DELETE', `/pods/${pod.body}`);
  });

  it('a kind from a plugin folder: routes, ids, items, logs, and removal with its workspace', async () => {
    const r = await api('POST', `/workers?workspace_id=${ws}`, { uses: 'Hi', py_modules: ['hi.ts'], greeting: 'hey' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const id = r.body as string;
    assert.match(id, /^jworker-[0-9a-f-]{36}$/);
    const item = (await api('GET', `/workers/${id}`)).body;
    assert.deepEqual([item.metadata.status, item.arguments.args.greeting, item.arguments.object.arguments.uses_with.greeting], ['running', 'hey', 'hey']);
    assert.ok(Object.keys((await api('GET', '/workers')).body.items).includes(id));
    assert.ok((await api('GET', `/workspaces/${ws}`)).body.metadata.managed_objects.includes(id));
    assert.equal((await api('POST', `/workers?workspace_id=${ws}`, { uses: 'Hi' })).status, 422);
    // Its output reaches the daemon's log receiver and its log file, found through its kind.
    let log = '';
    for (let i = 0; i < 200 && !log.includes('pea started'); i++) {
      log = await (await fetch(`${d.url}/logs/${id}`)).text();
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.match(log, /"message":"pea started"/);
    assert.equal((await fetch(`${d.url}/logs/jworker-00000000-0000-4000-8000-000000000001`)).status, 404);
    assert.equal((await fetch(`${d.url}/logs/jnothing-00000000-0000-4000-8000-000000000001`)).status, 422);
    const doc = (await api('GET', '/openapi.json')).body;
    assert.ok(doc.paths['/workers/{id}']);
  });

  it('a restart reconciles: vanished objects are forgotten, unknown ones removed, live ones kept', async () => {
    const keep = (await api('POST', flowQuery('flow.yml'))).body as string;
    const vanish = (await api('POST', flowQuery('flow.yml'))).body as string;
    await d.stop();
    await d.backend.removeObject(vanish);
    const stranger = 'jpea-00000000-0000-4000-8000-0000000000aa';
    await d.backend.runObject({ id: stranger, kind: 'pea', workspaceId: ws, image: `jworkspace:${ws.slice(11)}`, command: [], env: {}, ports: [], workdir: '/nowhere', resources: {} });
    d = Object.assign(await startFakeDaemon({ root: d.root, instance: d.instance, logsPort: d.logsPort, backend: d.backend, config: { extraPlugins: [worker] } }), { backend: d.backend });
    const flows = (await api('GET', '/flows')).body.items;
    assert.ok(flows[keep]);
    assert.equal(flows[vanish], undefined);
    assert.equal(d.backend.objects.has(stranger), false);
  });

  it('DELETE with everything=true removes objects of every kind, the network, the image and the files', async () => {
    assert.equal((await api('DELETE', `/workspaces/${ws}?everything=true`)).status, 200);
    assert.equal([...d.backend.objects.values()].filter((o) => o.spec.workspaceId === ws).length, 0);
    assert.equal(d.backend.networks.has(ws), false);
    assert.equal(d.backend.images.has(`jworkspace:${ws.slice(11)}`), false);
    assert.deepEqual((await api('GET', '/workers')).body.items, {});
  });
});

describe('workspaces on the fake backend', () => {
  it('a failed build is FAILED with the reason; an upload queued behind it builds after', async () => {
    const res = await fetch(`${d.url}/workspaces`, { method: 'POST', body: filesForm({ '.jinad': 'dockerfile = Dockerfile\n', Dockerfile: 'FROM ${JINAD_BASE_IMAGE}\n# fake-backend: fail the build broke\n' }) });
    assert.equal(res.status, 201);
    const id = Object.keys((await res.json()) as object)[0]!;
    const failed = await waitForState(d.url, id, ['FAILED'], 10_000);
    assert.match(failed.reason, /the build broke/);
    const put = await fetch(`${d.url}/workspaces/${id}`, { method: 'PUT', body: filesForm({ Dockerfile: 'FROM ${JINAD_BASE_IMAGE}\n' }) });
    assert.equal(put.status, 200);
    assert.equal((await waitForState(d.url, id, ['ACTIVE', 'FAILED'], 10_000)).state, 'ACTIVE');
    const log = await (await fetch(`${d.url}/logs/${id}`)).text();
    assert.match(log, /the build broke/);
    assert.match(log, /workspace is ACTIVE/);
  });
});
