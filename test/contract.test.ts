/**
 * The JinaD 2.0 wire contract, checked against the original's pydantic models (reference §3.3,
 * §3.4, §2.1), reproduced here as strict schemas field by field, nullability included: every
 * field the model declares must be there with its type (a required field absent, a string where
 * the model has a number, an object of nulls where it has null: each fails). Fields we add beside
 * them are allowed, as pydantic ignores unknown fields when it parses. Runs on the fake backend.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as v from 'valibot';
import { callJson, createWorkspace, freePort, startFakeDaemon } from './helpers.ts';

const uuid = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/** DaemonID, by its JSON schema pattern. */
const DaemonID = (jtype?: string) => v.pipe(v.string(), v.regex(new RegExp(`^(${jtype ?? 'jpod|jpea|jflow|jnetwork|jworkspace'})-${uuid}$`)));
/** A pydantic datetime, as FastAPI serialises it (ISO 8601). */
const DateTime = v.pipe(v.string(), v.check((s) => !Number.isNaN(Date.parse(s)), 'an ISO 8601 time'));
const ShortId = v.pipe(v.string(), v.regex(/^[0-9a-f]{10}$/));

const WorkspaceMetadata = v.looseObject({
  image_id: ShortId,
  image_name: v.pipe(v.string(), v.regex(new RegExp(`^jworkspace:${uuid}$`))),
  network: v.string(),
  workdir: v.string(),
  container_id: v.nullable(v.string()),
  managed_objects: v.array(DaemonID()),
});
const WorkspaceArguments = v.looseObject({
  files: v.array(v.string()),
  jinad: v.record(v.string(), v.string()),
  requirements: v.string(),
});
const WorkspaceItem = v.looseObject({
  time_created: DateTime,
  state: v.picklist(['PENDING', 'CREATING', 'UPDATING', 'ACTIVE', 'FAILED', 'DELETING']),
  metadata: v.nullable(WorkspaceMetadata),
  arguments: v.nullable(WorkspaceArguments),
});
const StoreStatus = <T extends v.GenericSchema>(item: T, idType: string) =>
  v.looseObject({ time_created: DateTime, time_updated: DateTime, num_add: v.pipe(v.number(), v.integer()), num_del: v.pipe(v.number(), v.integer()), items: v.record(DaemonID(idType), item) });
const WorkspaceStoreStatus = v.looseObject({
  ...StoreStatus(WorkspaceItem, 'jworkspace').entries,
  ip_range_start: v.string(),
  subnet_size: v.pipe(v.number(), v.integer()),
  ip_range_current_offset: v.pipe(v.number(), v.integer()),
});
const ContainerItem = (jtype: string) =>
  v.looseObject({
    time_created: DateTime,
    metadata: v.looseObject({
      container_id: v.string(),
      container_name: DaemonID(jtype),
      image_id: v.string(),
      network: v.string(),
      ports: v.record(v.pipe(v.string(), v.regex(/^\d+\/tcp$/)), v.pipe(v.number(), v.integer())),
      uri: v.string(),
    }),
    arguments: v.looseObject({ object: v.looseObject({ time_created: DateTime, arguments: v.record(v.string(), v.unknown()) }), entrypoint: v.string() }),
    workspace_id: DaemonID('jworkspace'),
  });
const DaemonStatus = v.looseObject({
  jina: v.record(v.string(), v.unknown()),
  envs: v.record(v.string(), v.unknown()),
  workspaces: WorkspaceStoreStatus,
  peas: v.looseObject({ ...StoreStatus(v.unknown(), 'jpea').entries }),
  pods: v.looseObject({ ...StoreStatus(v.unknown(), 'jpod').entries }),
  flows: v.looseObject({ ...StoreStatus(v.unknown(), 'jflow').entries }),
  used_memory: v.string(),
});
/** FastAPI's 404, and JinaD's 400 / 422 bodies. */
const NotFound = v.looseObject({ detail: v.string() });
const Validation = v.looseObject({ detail: v.array(v.looseObject({ loc: v.array(v.union([v.string(), v.number()])), msg: v.string(), type: v.string() })), body: v.string() });
const Runtime400 = v.looseObject({ detail: v.string(), body: v.union([v.array(v.string()), v.string()]) });

function conforms(schema: v.GenericSchema, value: unknown, what: string): void {
  const r = v.safeParse(schema, value);
  assert.ok(r.success, `${what} does not match the original's model: ${JSON.stringify(r.issues?.map((i) => ({ path: i.path?.map((p) => p.key).join('.'), message: i.message })))}\n${JSON.stringify(value)}`);
}

const FILES = {
  'flow.yml': 'jtype: Flow\nexecutors:\n  - name: hi\n    uses: Hi\n    py_modules: [hi.ts]\n',
  'hi.ts': 'export class Hi {}\n',
  'requirements.txt': 'tinydb\n',
  '.jinad': 'python = 3.8\nports = 45678\n',
};

let d: Awaited<ReturnType<typeof startFakeDaemon>>;
let ws: string;
const api = (method: string, path: string, body?: unknown) => callJson(d.url, method, path, body);
before(async () => {
  d = await startFakeDaemon();
  ws = (await createWorkspace(d.url, FILES)).id;
});
after(() => d?.cleanup());

describe('the JinaD 2.0 wire contract, model by model', () => {
  it('WorkspaceItem and WorkspaceStoreStatus; metadata null before the image exists, arguments.jinad as Dict[str, str]', async () => {
    const item = (await api('GET', `/workspaces/${ws}`)).body;
    conforms(WorkspaceItem, item, `GET /workspaces/${ws}`);
    assert.deepEqual(item.arguments.jinad, { python: '3.8', ports: '45678' });
    assert.equal(item.arguments.requirements, 'tinydb');
    conforms(WorkspaceStoreStatus, (await api('GET', '/workspaces')).body, 'GET /workspaces');
    const failing = await fetch(`${d.url}/workspaces`, { method: 'POST', body: (() => {
      const f = new FormData();
      f.append('files', new Blob(['FROM scratch\n# fake-backend: fail no image\n']), 'Dockerfile');
      f.append('files', new Blob(['dockerfile = Dockerfile\n']), '.jinad');
      return f;
    })() });
    const failedId = Object.keys((await failing.json()) as object)[0]!;
    let failed: any;
    for (let i = 0; i < 200 && failed?.state !== 'FAILED'; i++) {
      await new Promise((r) => setTimeout(r, 20));
      failed = (await api('GET', `/workspaces/${failedId}`)).body;
    }
    conforms(WorkspaceItem, failed, 'a FAILED workspace');
    assert.equal(failed.metadata, null, 'null until the image exists, not an object of nulls');
  });

  it('ContainerItem and ContainerStoreStatus for Flows, Pods and Peas', async () => {
    const flow = (await api('POST', `/flows?workspace_id=${ws}&filename=flow.yml`)).body;
    const pod = (await api('POST', `/pods?workspace_id=${ws}`, { name: 'p', uses: 'Hi', py_modules: ['hi.ts'] })).body;
    const pea = (await api('POST', `/peas?workspace_id=${ws}`, { name: 'q', uses: 'Hi', py_modules: ['hi.ts'] })).body;
    for (const [kind, id, jtype] of [['flows', flow, 'jflow'], ['pods', pod, 'jpod'], ['peas', pea, 'jpea']] as const) {
      conforms(ContainerItem(jtype), (await api('GET', `/${kind}/${id}`)).body, `GET /${kind}/${id}`);
      conforms(StoreStatus(ContainerItem(jtype), jtype), (await api('GET', `/${kind}`)).body, `GET /${kind}`);
    }
    const managed = (await api('GET', `/workspaces/${ws}`)).body.metadata.managed_objects;
    assert.deepEqual(new Set(managed), new Set([flow, pod, pea]));
  });

  it("a Pod and a Pea from a payload shaped as Jina 2's argument parser makes it: every option, null for the unset ones", async () => {
    // The options of Jina 2's pea and pod parsers (base, ZED runtime, container, remote, pea, pod
    // groups), as a Jina 2 client sends them: defaults filled in, enums by name or number, null
    // for each option not given.
    const jinaPayload = (portIn: number) => ({
      name: 'argparsed', description: null, log_config: 'default', quiet: false, quiet_error: false, workspace: null, workspace_id: null,
      identity: 'c3a4f0e2-0000-4000-8000-000000000000', extra_search_paths: null, timeout_ctrl: 5000, k8s_namespace: null,
      uses: 'Hi', uses_with: null, uses_metas: null, py_modules: ['hi.ts'], port_in: portIn, port_out: 51313, hosts_in_connect: null,
      host_in: '0.0.0.0', host_out: '0.0.0.0', socket_in: 'PULL_BIND', socket_out: 1, memory_hwm: -1, on_error_strategy: 'IGNORE',
      num_part: 0, dynamic_routing: true, dynamic_routing_out: false, dynamic_routing_in: false, grpc_data_requests: false,
      runs_in_docker: false, entrypoint: null, docker_kwargs: null, pull_latest: false, volumes: null, gpus: null,
      host: '0.0.0.0', port_jinad: 8000, quiet_remote_logs: false, upload_files: null,
      runtime_backend: 'PROCESS', runtime_cls: 'ZEDRuntime', timeout_ready: 600000, env: null, expose_public: false,
      pea_id: 0, pea_role: 'SINGLETON', noblock_on_start: false, replica_id: -1, shard_id: 0,
      uses_before: null, uses_after: null, uses_before_address: null, uses_after_address: null, parallel: 1, shards: 1, replicas: 1,
      polling: 'ANY', scheduling: 'LOAD_BALANCE', external: false, peas_hosts: null, port_ctrl: 52731, ctrl_with_ipc: true,
    });
    const pod = await api('POST', `/pods?workspace_id=${ws}`, jinaPayload(await freePort()));
    assert.equal(pod.status, 201, JSON.stringify(pod.body));
    const pea = await api('POST', `/peas?workspace_id=${ws}`, jinaPayload(await freePort()));
    assert.equal(pea.status, 201, JSON.stringify(pea.body));
    const item = (await api('GET', `/pods/${pod.body}`)).body;
    conforms(ContainerItem('jpod'), item, 'the Pod');
    assert.equal(item.arguments.object.arguments.identity, pod.body, "its identity is its new id, as JinaD sets it");
    await api('DELETE', `/pods/${pod.body}`);
    await api('DELETE', `/peas/${pea.body}`);
  });

  it('DaemonStatus', async () => {
    conforms(DaemonStatus, (await api('GET', '/status')).body, 'GET /status');
  });

  it('error bodies: 404 as FastAPI writes it, 422 with the pydantic error list in detail, 400 with the cause in body', async () => {
    const missing = `jflow-${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`;
    const notFound = await api('GET', `/flows/${missing}`);
    assert.equal(notFound.status, 404);
    conforms(NotFound, notFound.body, '404');
    const invalid = await api('GET', '/flows/jflow-invalid');
    assert.equal(invalid.status, 422);
    conforms(Validation, invalid.body, '422');
    const bad = await api('POST', `/flows?workspace_id=${ws}&filename=flow.yml&envs=JINAD_FAKE=fail:it failed`);
    assert.equal(bad.status, 400);
    conforms(Runtime400, bad.body, '400');
  });
});
