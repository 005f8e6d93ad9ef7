/**
 * `GET /metrics` and `GET /metrics/targets` on the fake backend: API requests by route template
 * (never by id), builds, objects, restarts, logs and backend calls; each Flow's gateway listed
 * for Prometheus' HTTP service discovery; a read token needed; off when `metrics: false`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { callJson, createWorkspace, startFakeDaemon } from './helpers.ts';

let d: Awaited<ReturnType<typeof startFakeDaemon>>;
before(async () => {
  d = await startFakeDaemon({ config: { readyTimeoutMs: 3000 } });
});
after(() => d?.cleanup());

/** The value of one series of the exposition (undefined when absent). */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
const scrape = async () => {
  const res = await fetch(`${d.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return res.text();
};

let grpcWs: string;

describe('metrics', () => {
  it('counts requests by route template, builds, objects, restarts and backend calls', async () => {
    const { id: ws } = await createWorkspace(d.url, {
      'flow.yml': 'executors:\n  - name: a\n    uses: A\n    py_modules: [a.ts]\n',
      'grpc.yml': 'with:\n  protocol: grpc\nexecutors:\n  - name: a\n    uses: A\n    py_modules: [a.ts]\n',
      'a.ts': 'export class A {}\n',
    });
    grpcWs = ws;
    const flow = (await callJson(d.url, 'POST', `/flows?workspace_id=${ws}&filename=flow.yml`)).body as string;
    for (let i = 0; i < 3; i++) await callJson(d.url, 'GET', `/flows/${flow}`);
    await callJson(d.url, 'GET', '/flows/jflow-00000000-0000-0000-0000-000000000000');
    await d.backend.crash(flow, 137);
    const text0 = await scrape();
    assert.equal(value(text0, 'jinad_http_requests_total{route="/flows/:id",method="GET",status="200"}'), 3);
    assert.equal(value(text0, 'jinad_http_requests_total{route="/flows/:id",method="GET",status="404"}'), 1);
    assert.doesNotMatch(text0, new RegExp(flow), 'no series per id');
    assert.equal(value(text0, 'jinad_workspace_builds_total{outcome="active"}'), 1);
    assert.equal(value(text0, 'jinad_workspaces{state="ACTIVE"}'), 1);
    assert.equal(value(text0, 'jinad_object_starts_total{kind="flow",outcome="ok"}'), 1);
    assert.equal(value(text0, 'jinad_object_start_duration_seconds_count{kind="flow"}'), 1);
    assert.ok((value(text0, 'jinad_backend_calls_total{operation="runObject",outcome="ok"}') ?? 0) >= 1);
    assert.match(text0, /jinad_http_request_duration_seconds_bucket\{le="0.005",route="\/flows\/:id",method="GET"\}/);
    assert.match(text0, /^jinad_process_resident_memory_bytes \d+/m);
    // The crash is restarted by its policy: the restart is counted once it runs again.
    let text = text0;
    for (let i = 0; i < 100 && value(text, 'jinad_object_restarts_total{kind="flow"}') !== 1; i++) {
      await new Promise((r) => setTimeout(r, 20));
      text = await scrape();
    }
    assert.equal(value(text, 'jinad_object_restarts_total{kind="flow"}'), 1);
    assert.equal(value(text, 'jinad_objects{kind="flow",state="running"}'), 1);
    assert.ok((value(text, 'jinad_log_lines_total{kind="flow"}') ?? 0) >= 1, 'the fake partial daemon wrote lines');
  });

  it("lists every Flow's gateway as a service-discovery target (but a gRPC one: it serves no /metrics)", async () => {
    assert.equal((await callJson(d.url, 'POST', `/flows?workspace_id=${grpcWs}&filename=grpc.yml`)).status, 201);
    const targets = (await callJson(d.url, 'GET', '/metrics/targets')).body as { targets: string[]; labels: Record<string, string> }[];
    assert.equal(targets.length, 1);
    assert.match(targets[0]!.targets[0]!, /^127\.0\.0\.1:\d+$/);
    assert.equal(targets[0]!.labels.jinad_kind, 'flow');
    assert.match(targets[0]!.labels.jinad_object!, /^jflow-/);
  });

  it('needs a read token when authentication is on; is gone when metrics are off', async () => {
    const secured = await startFakeDaemon({ config: { auth: true } });
    try {
      assert.equal((await fetch(`${secured.url}/metrics`)).status, 401);
      assert.equal((await fetch(`${secured.url}/metrics`, { headers: { authorization: `Bearer ${secured.adminToken}` } })).status, 200);
    } finally {
      await secured.cleanup();
    }
    const off = await startFakeDaemon({ config: { metrics: false } });
    try {
      assert.equal((await fetch(`${off.url}/metrics`)).status, 404);
    } finally {
      await off.cleanup();
    }
  });
});
