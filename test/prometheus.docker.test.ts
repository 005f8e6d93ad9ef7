/**
 * A real Prometheus (Debian's package, started here on loopback with a generated config) scrapes
 * the daemon with a read token, and finds every Flow's gateway through GET /metrics/targets. The
 * test then asks Prometheus' HTTP API for the build it just ran, the requests it just sent (by
 * route and status) and the Flow's processed-documents counter.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { callJson, createWorkspace, freePort, retryFetch, startDaemon, type TestDaemon } from './helpers.ts';

const fixture = (f: string) => fileURLToPath(new URL(`./fixtures/runtime/${f}`, import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'jinad-prometheus-'));
let d: TestDaemon;
let prometheus: ChildProcess | undefined;
let promUrl: string;
let log = '';

before(async () => {
  d = await startDaemon({ config: { auth: true } });
  const token = (await callJson(d.url, 'POST', '/tokens', { name: 'prometheus', scope: 'read' }, d.adminToken)).body.token as string;
  writeFileSync(path.join(dir, 'token'), token, { mode: 0o600 });
  const daemon = new URL(d.url);
  // `type` spelled out: Prometheus 2.42's HTTP service discovery sends the bare token without it.
  const auth = { type: 'Bearer', credentials_file: path.join(dir, 'token') };
  // JSON is YAML: the config is written as JSON.
  const config = {
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    scrape_configs: [
      { job_name: 'jinad', authorization: auth, static_configs: [{ targets: [daemon.host] }] },
      { job_name: 'flows', http_sd_configs: [{ url: `${d.url}/metrics/targets`, refresh_interval: '1s', authorization: auth }] },
    ],
  };
  writeFileSync(path.join(dir, 'prometheus.yml'), JSON.stringify(config));
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  prometheus = spawn('prometheus', [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  prometheus.stderr!.on('data', (c) => (log += c));
  await retryFetch(`${promUrl}/-/ready`, 30_000);
});
after(async () => {
  if (prometheus && prometheus.exitCode === null) {
    const exited = new Promise((r) => prometheus!.once('exit', r));
    prometheus.kill('SIGTERM');
    await exited;
  }
  await d?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** Ask Prometheus until the query has a result that `ok` accepts (scrapes come every second). */
async function until(query: string, ok: (value: number, labels: Record<string, string>) => boolean, ms = 30_000): Promise<number> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    const res = (await (await fetch(`${promUrl}/api/v1/query?${new URLSearchParams({ query })}`)).json()) as any;
    last = res.data?.result;
    const hit = (res.data?.result ?? []).find((r: any) => ok(Number(r.value[1]), r.metric));
    if (hit) return Number(hit.value[1]);
    if (Date.now() > deadline) {
      const targets = (await (await fetch(`${promUrl}/api/v1/targets`)).json()) as any;
      const health = (targets.data?.activeTargets ?? []).map((t: any) => `${t.scrapePool} ${t.scrapeUrl} ${t.health} ${t.lastError}`);
      assert.fail(`Prometheus has no matching ${query}: ${JSON.stringify(last)}; targets: ${health.join(' | ')}\n${log.slice(-1500)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('Prometheus scrapes the daemon and its Flows', () => {
  it('finds the build, the requests by route and status, and the documents a Flow processed', async () => {
    const { id: ws } = await createWorkspace(d.url, { 'executors.ts': readFileSync(fixture('executors.ts')), 'seq.yml': readFileSync(fixture('seq.yml')) }, '', { token: d.adminToken });
    const created = await callJson(d.url, 'POST', `/flows?workspace_id=${ws}&filename=seq.yml`, undefined, d.adminToken);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const flow = created.body as string;
    const item = (await callJson(d.url, 'GET', `/flows/${flow}`, undefined, d.adminToken)).body;
    const gateway = Object.entries(item.metadata.ports as Record<string, number>).find(([k]) => k !== '8000/tcp')![1];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`http://127.0.0.1:${gateway}/index`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: [{ text: 'a' }, { text: 'b' }, { text: 'c' }] }) });
      assert.equal(res.status, 200);
    }
    await until('jinad_workspace_builds_total{job="jinad",outcome="active"}', (v) => v >= 1);
    await until('jinad_http_requests_total{job="jinad",route="/flows",method="POST",status="201"}', (v) => v >= 1);
    await until('jinad_http_requests_total{job="jinad",route="/flows/:id",method="GET",status="200"}', (v) => v >= 1);
    await until('jinad_http_request_duration_seconds_count{job="jinad",route="/flows",method="POST"}', (v) => v >= 1);
    await until('histogram_quantile(0.5, jinad_http_request_duration_seconds_bucket{job="jinad",route="/flows",method="POST"})', (v) => v > 0);
    const docs = await until(`jina_gateway_documents_total{job="flows",endpoint="/index",jinad_object="${flow}"}`, (v) => v >= 15);
    assert.equal(docs, 15);
    await until(`jina_executor_request_duration_seconds_count{job="flows",executor="first",jinad_object="${flow}"}`, (v) => v >= 5);
    const up = await until('up{job="jinad"}', () => true);
    assert.equal(up, 1, 'the daemon is scraped with its read token');
  });
});
