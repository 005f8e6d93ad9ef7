/** The gateway speaks Jina 2's HTTP shapes, and streams many requests over one WebSocket. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { Flow, loadFlow } from '../../src/runtime/index.ts';
import { fixture, post } from './helpers.ts';

const shapes = JSON.parse(readFileSync(fixture('jina2-http.json'), 'utf8'));
let flow: Flow;
before(async () => {
  flow = await new Flow(loadFlow(fixture('seq.yml')), { host: '127.0.0.1' }).start();
});
after(() => flow.close());

describe('Jina 2 HTTP shapes', () => {
  for (const [i, r] of (shapes.requests as { path: string; body: unknown }[]).entries()) {
    it(`request ${i} to ${r.path} is accepted and answered in Jina 2's shape`, async () => {
      const out = await post(flow.port!, r.path, r.body);
      assert.deepEqual(Object.keys(out).sort(), shapes.response.keys);
      for (const k of shapes.response.header) assert.ok(k in out.header, k);
      for (const k of Object.keys(out.header)) assert.ok([...shapes.response.header, ...shapes.response.headerOptional].includes(k), k);
      assert.deepEqual(Object.keys(out.status).sort(), shapes.response.status);
      assert.equal(out.status.code, shapes.response.statusCodes.SUCCESS);
      for (const route of out.routes) assert.deepEqual(Object.keys(route).sort(), shapes.response.route);
      assert.ok(Array.isArray(out.data.docs));
      for (const d of out.data.docs) assert.match(d.id, /./);
    });
  }
  it('keeps ids, tags, embeddings and parameters', async () => {
    const out = await post(flow.port!, '/post', shapes.requests[0].body);
    assert.equal(out.data.docs[0].id, '🐲');
    assert.deepEqual(out.data.docs[0].tags, { guardian: 'Azure Dragon', position: 'East', first: 'one' });
    assert.deepEqual(out.data.docs[1].embedding, [0.1, 0.2]);
    assert.deepEqual(out.parameters, { top_k: 3, model: 'bert' });
  });
  it('an executor error has the exception fields', async () => {
    const out = await post(flow.port!, '/post', { exec_endpoint: '/fail', data: ['x'] });
    assert.equal(out.status.code, shapes.response.statusCodes.ERROR);
    assert.deepEqual(Object.keys(out.status.exception).sort(), shapes.response.errorStatusException);
  });
  it('GET / and /status report jina, envs and used_memory', async () => {
    for (const path of ['/', '/status']) {
      const body = await (await fetch(`http://127.0.0.1:${flow.port}${path}`)).json();
      assert.deepEqual(Object.keys(body).sort(), shapes.status.keys);
    }
  });
  it('malformed requests are 4xx with a reason, not a dropped connection', async () => {
    const url = `http://127.0.0.1:${flow.port}/post`;
    const cases: [string, number][] = [['{"data": []}', 422], ['not json', 400], ['{"exec_endpoint": "/x", "data": 5}', 422], ['{"exec_endpoint": "/x", "target_peapod": "("}', 422]];
    for (const [body, status] of cases) {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      assert.equal(res.status, status, body);
      assert.ok(((await res.json()) as { detail: string }).detail, body);
    }
  });
});

describe('WebSocket stream', () => {
  it('answers many requests sent at once over one connection, each with its requestId', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${flow.port}/stream`);
    await new Promise((r, j) => ws.once('open', r).once('error', j));
    const answers = new Map<string, any>();
    const done = new Promise<void>((resolve) =>
      ws.on('message', (m) => {
        const out = JSON.parse(String(m));
        answers.set(out.requestId, out);
        if (answers.size === 20) resolve();
      }),
    );
    for (let i = 0; i < 20; i++) ws.send(JSON.stringify({ exec_endpoint: '/index', request_id: `r${i}`, data: [`doc ${i}`] }));
    await done;
    ws.close();
    for (let i = 0; i < 20; i++) assert.equal(answers.get(`r${i}`).data.docs[0].text, `DOC ${i}`);
  });
});

describe("the gateway's own metrics", () => {
  it('counts requests by endpoint and outcome, documents, and the time of each executor', async () => {
    const text = async () => (await fetch(`http://127.0.0.1:${flow.port}/metrics`)).text();
    const before = await text();
    const count = (t: string, series: string) => Number(t.split('\n').find((l) => l.startsWith(`${series} `))?.split(' ')[1] ?? 0);
    await post(flow.port!, '/index', { data: ['a', 'b', 'c'] });
    await post(flow.port!, '/post', { exec_endpoint: '/fail', data: ['x'] });
    const after = await text();
    assert.equal(count(after, 'jina_gateway_documents_total{endpoint="/index"}') - count(before, 'jina_gateway_documents_total{endpoint="/index"}'), 3);
    assert.equal(count(after, 'jina_gateway_requests_total{endpoint="/index",outcome="ok"}') - count(before, 'jina_gateway_requests_total{endpoint="/index",outcome="ok"}'), 1);
    assert.ok(count(after, 'jina_gateway_requests_total{endpoint="/fail",outcome="error"}') >= 1);
    assert.ok(count(after, 'jina_executor_request_duration_seconds_count{executor="first"}') >= 2);
    assert.match(after, /jina_gateway_request_duration_seconds_bucket\{le="0.005",endpoint="\/index"\}/);
  });
});
