/**
 * Logs on the real Docker Engine: build output followed live, container output through the
 * fluentd driver into files, followers over HTTP (NDJSON) and WebSocket, restarts.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { createWorkspace, filesForm, startDaemon, type TestDaemon, waitForState } from '../../test/helpers.ts';

const fixture = (f: string) => fileURLToPath(new URL(`../../test/fixtures/runtime/${f}`, import.meta.url));
const FILES = ['executors.ts', 'talkers.ts', 'talk.yml', 'counter.yml'];

let d: TestDaemon;
let ws: string;
before(async () => {
  d = await startDaemon({ config: { logs: { heartbeatMs: 200 } } });
  const created = await createWorkspace(d.url, Object.fromEntries(FILES.map((f) => [f, readFileSync(fixture(f))])));
  assert.equal(created.item.state, 'ACTIVE', created.item.reason);
  ws = created.id;
});
after(() => d?.cleanup());

const startFlow = async (filename: string, envs: string[] = []) => {
  const q = new URLSearchParams({ workspace_id: ws, filename });
  for (const e of envs) q.append('envs', e);
  const res = await fetch(`${d.url}/flows?${q}`, { method: 'POST' });
  assert.equal(res.status, 201, await res.clone().text());
  const id = (await res.json()) as string;
  const item = (await (await fetch(`${d.url}/flows/${id}`)).json()) as any;
  return { id, port: item.metadata.ports['8080/tcp'] as number };
};
const talk = (port: number, text: string) =>
  fetch(`http://127.0.0.1:${port}/index`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: [text] }) }).then((r) => r.json());
const logFile = (id: string) => path.join(d.root, '.daemon', ws, 'logs', id, 'logging.log');

/** A WebSocket follower collecting parsed lines; `until` waits for a matching message. */
function follower(id: string, query = '') {
  const socket = new WebSocket(`${d.url.replace('http', 'ws')}/logstream/${id}${query}`);
  const lines: any[] = [];
  let pings = 0;
  let closed: { code: number; reason: string } | undefined;
  socket.on('message', (m) => lines.push(JSON.parse(String(m))));
  socket.on('ping', () => pings++);
  socket.on('close', (code, reason) => (closed = { code, reason: String(reason) }));
  const opened = new Promise<void>((r, j) => socket.once('open', () => r()).once('error', j));
  const until = async (pred: (l: any) => boolean, ms = 5000) => {
    const t0 = Date.now();
    while (!lines.some(pred)) {
      if (Date.now() - t0 > ms) throw new Error(`no matching line in ${ms} ms; got ${lines.map((l) => l.message).slice(-5).join(' | ')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return Date.now() - t0;
  };
  return { socket, lines, opened, until, pings: () => pings, closed: () => closed };
}

describe('logs', () => {
  it('a workspace build log streams live: lines arrive before ACTIVE', async () => {
    // Steps no earlier run cached (image removals keep cache layers): their output is really printed.
    const slow = `ARG JINAD_BASE_IMAGE\nFROM \${JINAD_BASE_IMAGE}\nRUN echo building-step-one ${randomUUID()} && sleep 2\nRUN echo building-step-two\n`;
    const res = await fetch(`${d.url}/workspaces`, { method: 'POST', body: filesForm({ 'slow.Dockerfile': slow, '.jinad': 'dockerfile = slow.Dockerfile\n' }) });
    const id = Object.keys((await res.json()) as object)[0]!;
    const stream = await fetch(`${d.url}/logs/${id}?follow=true&tail=100`);
    assert.equal(stream.headers.get('content-type'), 'application/x-ndjson; charset=utf-8');
    const reader = stream.body!.getReader();
    let text = '';
    while (!text.includes('building-step-one')) text += new TextDecoder().decode((await reader.read()).value);
    const state = ((await (await fetch(`${d.url}/workspaces/${id}`)).json()) as any).state;
    assert.notEqual(state, 'ACTIVE', 'the line arrived before the build ended');
    await waitForState(d.url, id, ['ACTIVE']);
    while (!text.includes('workspace is ACTIVE')) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    for (const line of text.split('\n').filter(Boolean)) assert.equal(JSON.parse(line).workspace_id, id);
    await fetch(`${d.url}/workspaces/${id}?everything=true`, { method: 'DELETE' });
  });

  it("a Flow's executor line reaches its file and a follower within 1 s; late followers get the start-up lines", async () => {
    const { id, port } = await startFlow('talk.yml');
    const late = follower(id, '?tail=1000');
    await late.opened;
    await late.until((l) => /partial daemon \(flow\) listening/.test(l.message));
    const took = await Promise.all([late.until((l) => l.message.includes('talk: hello-1s'), 1000), talk(port, 'hello-1s')]).then(([ms]) => ms);
    assert.ok(took < 1000, `${took} ms`);
    const line = late.lines.find((l) => l.message.includes('talk: hello-1s'));
    assert.deepEqual([line.workspace_id, line.object_id, line.stream], [ws, id, 'stdout']);
    assert.match(line.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    assert.match(readFileSync(logFile(id), 'utf8'), /talk: hello-1s/);
    for (let i = 0; i < 40 && late.pings() === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(late.pings() > 0, 'heartbeats arrive');
    late.socket.close();

    // HTTP: the file; tail and since; follow.
    const whole = await (await fetch(`${d.url}/logs/${id}`)).text();
    assert.match(whole, /talk: hello-1s/);
    const lines = whole.trim().split('\n').map((l) => JSON.parse(l));
    const tail2 = (await (await fetch(`${d.url}/logs/${id}?tail=2`)).text()).trim().split('\n');
    assert.deepEqual(tail2.map((l) => JSON.parse(l).message), lines.slice(-2).map((l) => l.message));
    const since = (await (await fetch(`${d.url}/logs/${id}?since=${encodeURIComponent(line.time)}`)).text()).trim().split('\n');
    assert.equal(JSON.parse(since[0]!).message, line.message);
    const follow = await fetch(`${d.url}/logs/${id}?follow=true&tail=0`);
    const reader = follow.body!.getReader();
    await talk(port, 'followed-over-http');
    let text = '';
    while (!text.includes('followed-over-http')) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    assert.doesNotMatch(text, /hello-1s/, 'tail=0 sends no old line');
  });

  it('50 followers of one object all get every line; departed clients leave nothing behind', async () => {
    const { id, port } = await startFlow('talk.yml');
    await talk(port, 'warm-up');
    const followers = Array.from({ length: 50 }, () => follower(id, '?tail=0'));
    await Promise.all(followers.map((f) => f.opened));
    for (let i = 0; i < 20; i++) await talk(port, `fan-${i}`);
    for (const f of followers) await f.until((l) => l.message === 'talk: fan-19');
    for (const f of followers) assert.deepEqual(f.lines.map((l) => l.message).filter((m) => m.startsWith('talk: fan-')), Array.from({ length: 20 }, (_, i) => `talk: fan-${i}`));
    for (const f of followers) f.socket.close();
    const handlesBefore = (process as any)._getActiveHandles().length;
    for (let i = 0; i < 100; i++) {
      const f = follower(id, '?tail=5');
      await f.opened;
      await f.until(() => true);
      f.socket.close();
      await new Promise((r) => f.socket.once('close', r));
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.ok((process as any)._getActiveHandles().length <= handlesBefore + 2, 'no handles left open by 100 connect/disconnect cycles');
    assert.equal(((await (await fetch(`${d.url}/status`)).json()) as any).log_followers, 0);
  });

  it('a stream closes with a reason when its object is deleted, or after `timeout` s of silence; unknown ids are 404', async () => {
    const { id } = await startFlow('talk.yml');
    const timed = follower(id, '?timeout=1&tail=0');
    const deleted = follower(id, '?tail=0');
    await Promise.all([timed.opened, deleted.opened]);
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(timed.closed(), { code: 1000, reason: 'no new log lines for 1 s' });
    assert.equal(deleted.closed(), undefined);
    await fetch(`${d.url}/flows/${id}`, { method: 'DELETE' });
    for (let i = 0; i < 100 && !deleted.closed(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(deleted.closed(), { code: 1000, reason: `${id} was deleted` });
    // Its logs stay in the workspace.
    assert.equal((await fetch(`${d.url}/logs/${id}`)).status, 200);
    assert.equal((await fetch(`${d.url}/logs/jflow-00000000-0000-4000-8000-000000000009`)).status, 404);
    assert.equal((await fetch(`${d.url}/logs/jworkspace-00000000-0000-4000-8000-000000000009?follow=true`)).status, 404);
    assert.equal((await fetch(`${d.url}/logs/bogus`)).status, 422);
    assert.equal((await fetch(`${d.url}/logs/${ws}?tail=many`)).status, 422);
    const missing = new WebSocket(`${d.url.replace('http', 'ws')}/logstream/jflow-00000000-0000-4000-8000-000000000009`);
    const status = await new Promise<number>((r) => missing.on('unexpected-response', (_req, res) => r(res.statusCode!)));
    assert.equal(status, 404);
  });

  it('a daemon restart while a Flow keeps logging loses no line in the file', async () => {
    const { id } = await startFlow('counter.yml', ['COUNT_MS=40']);
    const file = logFile(id);
    const counts = () => [...readFileSync(file, 'utf8').matchAll(/"message":"count (\d+)"/g)].map((m) => Number(m[1]));
    for (let i = 0; i < 100 && counts().length < 10; i++) await new Promise((r) => setTimeout(r, 50));
    await d.stop();
    await new Promise((r) => setTimeout(r, 1500)); // the Flow keeps logging while no one listens
    d = await startDaemon({ root: d.root, instance: d.instance, logsPort: d.logsPort, config: { logs: { heartbeatMs: 200 } } });
    await new Promise((r) => setTimeout(r, 1500));
    const seen = counts();
    const first = seen[0]!;
    assert.deepEqual(seen, Array.from({ length: seen.length }, (_, i) => first + i), 'every count once, in order');
    assert.ok(seen.length > 80, `only ${seen.length} lines`);
  });
});

describe('logs with an external Fluentd', () => {
  it('the driver sends there, and the daemon still fills its files through Docker', async () => {
    const { ForwardReceiver } = await import('./receiver.ts');
    const { freePort } = await import('../../test/helpers.ts');
    const received: string[] = [];
    const fluentd = new ForwardReceiver((e) => received.push(String(e.record.log)));
    const port = await freePort();
    await fluentd.listen(port, '127.0.0.1');
    const ext = await startDaemon({ config: { logs: { fluentd: `tcp://127.0.0.1:${port}` } } });
    try {
      const created = await createWorkspace(ext.url, Object.fromEntries(['talkers.ts', 'talk.yml'].map((f) => [f, readFileSync(fixture(f))])));
      const res = await fetch(`${ext.url}/flows?workspace_id=${created.id}&filename=talk.yml`, { method: 'POST' });
      assert.equal(res.status, 201, await res.clone().text());
      const id = (await res.json()) as string;
      const gw = ((await (await fetch(`${ext.url}/flows/${id}`)).json()) as any).metadata.ports['8080/tcp'];
      await talk(gw, 'to-the-external-fluentd');
      const file = path.join(ext.root, '.daemon', created.id, 'logs', id, 'logging.log');
      const inFile = () => {
        try {
          return readFileSync(file, 'utf8').includes('talk: to-the-external-fluentd');
        } catch {
          return false;
        }
      };
      for (let i = 0; i < 60 && !(inFile() && received.includes('talk: to-the-external-fluentd')); i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(received.includes('talk: to-the-external-fluentd'), 'the external Fluentd got the line');
      assert.ok(inFile(), "the daemon's file got it through Docker");
    } finally {
      await ext.cleanup();
      await fluentd.close();
    }
  });
});
