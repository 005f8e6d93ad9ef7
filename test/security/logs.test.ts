/**
 * Who can write an object's log, and what a record can do to it (fake backend, real receiver):
 * only the daemon's user (and root: the engine) can open the receiver's socket; no record, by
 * its time or its tag, hides or makes another's lines; the records Docker's driver sends
 * (captured from a real engine: test/fixtures/logs) are written as they came; lines and
 * messages past the limits are cut or counted, never dropped silently.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encode, ExtensionCodec } from '@msgpack/msgpack';
import WebSocket from 'ws';
import { createWorkspace, startFakeDaemon } from '../helpers.ts';

let d: Awaited<ReturnType<typeof startFakeDaemon>>;
before(async () => {
  d = await startFakeDaemon();
  chmodSync(d.root, 0o755); // as a daemon's root usually is: only the socket's own folder keeps others out
});
after(() => d?.cleanup());

/** EventTime (msgpack ext 0: seconds, nanoseconds), as Docker's driver sends a record's time. */
class EventTime {
  constructor(
    readonly epoch: number,
    readonly nano: number,
  ) {}
}
const codec = new ExtensionCodec();
codec.register({
  type: 0,
  encode: (x) => {
    if (!(x instanceof EventTime)) return null;
    const b = Buffer.alloc(8);
    b.writeUInt32BE(x.epoch, 0);
    b.writeUInt32BE(x.nano, 4);
    return b;
  },
  decode: () => null,
});
const now = () => new EventTime(Math.floor(Date.now() / 1000), (Date.now() % 1000) * 1e6 + 123);
const record = (tag: string, time: EventTime | number, log: string, extra: Record<string, string> = {}) => encode([tag, time, { log, source: 'stdout', container_id: 'c0ffee', ...extra }, {}], { extensionCodec: codec });

const connect = async (file = d.logsSocket) => {
  const s = net.connect(file);
  await new Promise((r, j) => s.once('connect', r).once('error', j));
  return s;
};
const logOf = async (url: string, id: string, until: RegExp) => {
  let text = '';
  for (let i = 0; i < 300 && !until.test(text); i++) {
    text = await (await fetch(`${url}/logs/${id}`)).text();
    await new Promise((r) => setTimeout(r, 30));
  }
  return text;
};
const linesOf = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l));
const newPod = async (url: string) => {
  const ws = (await createWorkspace(url, { 'hi.ts': 'export class Hi {}\n' })).id;
  const pod = (await (await fetch(`${url}/pods?workspace_id=${ws}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uses: 'Hi', py_modules: ['hi.ts'] }) })).json()) as string;
  await logOf(url, pod, /pod started/);
  return { ws, pod };
};

describe('who can write a log', () => {
  it('nothing listens on TCP on one host; the socket is in a folder only the daemon’s user opens; another local user is refused and writes nothing', async (t) => {
    const { ws, pod } = await newPod(d.url);
    const tcp = await new Promise<string>((r) => {
      const s = net.connect(d.logsPort, '127.0.0.1');
      s.once('connect', () => (s.destroy(), r('connected')));
      s.once('error', (e: NodeJS.ErrnoException) => r(e.code ?? e.message));
    });
    assert.equal(tcp, 'ECONNREFUSED');
    const folder = statSync(path.dirname(d.logsSocket));
    assert.equal(folder.mode & 0o777, 0o700);
    assert.equal(folder.uid, process.getuid!());
    if (process.getuid!() !== 0) return t.skip('acting as another user needs root');
    // Another user on the machine (nobody) tries the socket with a record for a real object.
    const forger = `
      const net = require('node:net');
      const s = net.connect(${JSON.stringify(d.logsSocket)});
      s.on('connect', () => { s.end(Buffer.from(${JSON.stringify([...record(`jinad.${ws}.${pod}`, now(), 'forged by nobody')])})); console.log('connected'); });
      s.on('error', (e) => console.log(e.code));`;
    const out = execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', forger], { encoding: 'utf8' }).trim();
    assert.equal(out, 'EACCES');
    // The daemon's own user can (the engine, root, too): a line sent now is the next one written.
    const s = await connect();
    s.end(record(`jinad.${ws}.${pod}`, now(), 'sent by the daemon user'));
    const log = await logOf(d.url, pod, /sent by the daemon user/);
    assert.doesNotMatch(log, /forged by nobody/);
  });
});

describe('log records', () => {
  it('what Docker’s driver sends, captured from a real engine, is written as it came: EventTime to the nanosecond, long lines joined, streams kept', async () => {
    const { ws, pod } = await newPod(d.url);
    const captured = readFileSync(path.join(import.meta.dirname, '../fixtures/logs/docker-fluentd.bin'));
    const placeholder = Buffer.from('jinad.jworkspace-00000000-0000-4000-8000-000000000000.jpod-00000000-0000-4000-8000-000000000000');
    const tag = Buffer.from(`jinad.${ws}.${pod}`);
    assert.equal(tag.length, placeholder.length);
    for (let at = captured.indexOf(placeholder); at >= 0; at = captured.indexOf(placeholder, at)) tag.copy(captured, at);
    const s = await connect();
    s.end(captured);
    const lines = linesOf(await logOf(d.url, pod, /last line/)).filter((l) => l.stream !== 'stdout' || l.message !== 'pod started');
    const byMessage = (m: string | RegExp) => lines.find((l) => (typeof m === 'string' ? l.message === m : m.test(l.message)));
    assert.equal(byMessage('to stderr')?.type, 'ERROR');
    assert.equal(byMessage(/^x+$/)?.message.length, 40_000, 'the parts of the long line, joined');
    assert.ok(byMessage('no newline at the end'));
    const stdout = lines.filter((l) => l.stream === 'stdout').map((l) => l.message.slice(0, 10));
    assert.deepEqual(stdout.slice(-4), ['first line', 'xxxxxxxxxx', 'no newline', 'last line']);
    for (const l of lines) assert.match(l.source_time, /^20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    assert.ok(lines.some((l) => !/000000Z$/.test(l.source_time)), 'nanoseconds kept');
  });

  it('a live line is the JSON of its record, field for field, whatever its message and stream hold', async () => {
    const { ws, pod } = await newPod(d.url);
    const s = await connect();
    const message = 'quotes " and \\ backslash, a tab\t, a bell \u0007, é ✓ 𝄞, a lone surrogate \ud800, </script>';
    s.write(encode([`jinad.${ws}.${pod}`, now(), { log: message, source: 'std"err' }, {}], { extensionCodec: codec }));
    s.end(record(`jinad.${ws}.${pod}`, now(), 'the end'));
    const raw = (await logOf(d.url, pod, /the end/)).trim().split('\n').filter((l) => l.includes('std\\"err'));
    assert.equal(raw.length, 1);
    const line = JSON.parse(raw[0]!);
    assert.equal(raw[0], JSON.stringify(line), 'as JSON.stringify writes it');
    assert.deepEqual(Object.keys(line), ['time', 'source_time', 'stream', 'message', 'workspace_id', 'object_id', 'host', 'name', 'type']);
    assert.deepEqual([line.stream, line.message, line.workspace_id, line.object_id, line.host, line.name, line.type], ['std"err', message.replace('\ud800', '\ufffd'), ws, pod, pod, 'pod', 'INFO']);
  });

  it('a record dated 2100 (EventTime) hides nothing after it: every line is kept, in arrival order, each with its own source time', async () => {
    const { ws, pod } = await newPod(d.url);
    const s = await connect();
    s.write(record(`jinad.${ws}.${pod}`, new EventTime(4_102_444_800, 5), 'dated 2100'));
    s.write(record(`jinad.${ws}.${pod}`, now(), 'genuine one'));
    s.write(record(`jinad.${ws}.${pod}`, 1_000_000_000, 'dated 2001, an integer time'));
    await logOf(d.url, pod, /dated 2001/);
    assert.equal((await fetch(`${d.url}/pods/scale/${pod}?replicas=2`, { method: 'PUT' })).status, 200);
    s.end(record(`jinad.${ws}.${pod}`, now(), 'genuine two'));
    const lines = linesOf(await logOf(d.url, pod, /genuine two/));
    const messages = lines.map((l) => l.message);
    const order = ['dated 2100', 'genuine one', 'dated 2001, an integer time', 'pod updated', 'genuine two'].map((m) => messages.indexOf(m));
    assert.deepEqual(
      order.map((i) => i >= 0),
      [true, true, true, true, true],
      messages.join(' | '),
    );
    assert.deepEqual([...order].sort((a, b) => a - b), order, 'in arrival order');
    assert.equal(lines[order[0]!].source_time, '2100-01-01T00:00:00.000000005Z');
    assert.equal(lines[order[2]!].source_time, '2001-09-09T01:46:40.000000000Z');
    // Jina's record fields, as its clients print a line: host, name, type.
    const started = lines.find((l) => l.message === 'pod started');
    assert.deepEqual([started.host, started.name, started.type], [pod, 'pod', 'INFO']);
    for (let i = 1; i < lines.length; i++) assert.ok(lines[i].time >= lines[i - 1].time, 'time is when the daemon received it');
    // `since` goes by arrival: the 2100 record does not make later lines look old.
    const since = (await (await fetch(`${d.url}/logs/${pod}?since=${encodeURIComponent(lines[order[0]!].time)}`)).text()).trim().split('\n');
    assert.ok(since.length >= 5);
  });

  it('a tag that names no object of this daemon, another workspace, or a path writes nothing', async () => {
    const { ws, pod } = await newPod(d.url);
    const other = (await createWorkspace(d.url, { 'hi.ts': 'export class Hi {}\n' })).id;
    const s = await connect();
    const unknown = 'jpea-00000000-0000-4000-8000-00000000dead';
    for (const tag of [`jinad.${ws}.${unknown}`, `jinad.${other}.${pod}`, `jinad.${ws}.${pod}.extra`, `jinad.${ws}./etc`, `jinad.${ws}.`, `jinad.${ws}.../../../tmp`, `jinad.../${ws}.${pod}`, `jinad.${ws}.${pod}/../../x`, `docker.${ws}.${pod}`]) {
      s.write(record(tag, now(), `forged via ${tag}`));
    }
    s.end(record(`jinad.${ws}.${pod}`, now(), 'the real one'));
    const log = await logOf(d.url, pod, /the real one/);
    assert.doesNotMatch(log, /forged via/);
    const daemonFiles = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(`${dir}/${f}`).isDirectory() ? daemonFiles(`${dir}/${f}`) : [`${dir}/${f}`]));
    const files = daemonFiles(`${d.root}/.daemon`).map((f) => f.slice(d.root.length));
    assert.ok(!files.some((f) => !/^\/\.daemon\/jworkspace-[0-9a-f-]{36}\/(logging\.log|logs\/j[a-z]+-[0-9a-f-]{36}\/logging\.log)$/.test(f)), files.join('\n'));
    const mine = files.filter((f) => f.includes('/logs/') && (f.includes(ws) || f.includes(other)));
    assert.deepEqual(mine, [`/.daemon/${ws}/logs/${pod}/logging.log`]);
    assert.equal((await fetch(`${d.url}/logs/${unknown}`)).status, 404);
  });
});

describe('receiver limits', () => {
  let small: Awaited<ReturnType<typeof startFakeDaemon>>;
  before(async () => {
    small = await startFakeDaemon({ config: { logs: { linesPerSecond: 50, maxLineBytes: 1000, maxMessageBytes: 1 << 20 } } });
  });
  after(() => small?.cleanup());

  it('lines over the rate are counted and the log says how many; long lines are cut with a marker', async () => {
    const { ws, pod } = await newPod(small.url);
    const tag = `jinad.${ws}.${pod}`;
    const s = await connect(small.logsSocket);
    s.write(record(tag, now(), `long ${'y'.repeat(2995)}`)); // 3000 bytes in one record
    for (const [i, last] of [[1, 'false'], [2, 'false'], [3, 'true']] as const) s.write(record(tag, now(), 'z'.repeat(800), { partial_message: 'true', partial_id: 'p1', partial_ordinal: String(i), partial_last: last }));
    const burst = Buffer.concat(Array.from({ length: 400 }, (_, i) => record(tag, now(), `burst ${i}`)));
    s.end(burst);
    const lines = linesOf(await logOf(small.url, pod, /were not kept/));
    assert.equal(lines.filter((l) => /line cut at 1000 of/.test(l.message)).length, 2);
    assert.match(lines.find((l) => l.message.startsWith('long '))!.message, /^long y{995} … \[jinad: line cut at 1000 of 3000 bytes/);
    assert.match(lines.find((l) => l.message.startsWith('zzz'))!.message, /^z{1000} … \[jinad: line cut at 1000 of 2400 bytes/);
    const kept = lines.filter((l) => l.message.startsWith('burst ')).length;
    const note = lines.find((l) => /were not kept/.test(l.message))!;
    const dropped = Number(/jinad: (\d+) line\(s\) over logs\.linesPerSecond \(50\)/.exec(note.message)?.[1]);
    // Five seconds' worth (250) pass at once, less the two long lines, plus what the second refilled.
    assert.ok(kept >= 240 && kept <= 270, `kept ${kept}`);
    assert.equal(kept + dropped, 400, `kept ${kept}, the note says ${dropped}`);
    assert.equal(note.stream, 'stderr');
  });

  it('a 64 MiB message is refused as its header arrives; the daemon answers at once and takes the next sender', async () => {
    const { ws, pod } = await newPod(small.url);
    const s = await connect(small.logsSocket);
    const closed = new Promise((r) => s.once('close', r));
    s.on('error', () => {});
    s.write(record(`jinad.${ws}.${pod}`, now(), 'a'.repeat(64 << 20)));
    await closed;
    const t0 = performance.now();
    assert.equal((await fetch(`${small.url}/`)).status, 200);
    assert.ok(performance.now() - t0 < 1000, `answered in ${Math.round(performance.now() - t0)} ms`);
    const next = await connect(small.logsSocket);
    next.end(record(`jinad.${ws}.${pod}`, now(), 'after the big one'));
    assert.match(await logOf(small.url, pod, /after the big one/), /after the big one/);
  });
});

describe('a WebSocket reader that does not read', () => {
  it('24 MiB logged while it did not read: once it reads again, every line comes, once, in order', async () => {
    const { ws, pod } = await newPod(d.url);
    const client = new WebSocket(`${d.url.replace('http', 'ws')}/logstream/${pod}?tail=0`);
    const got: string[] = [];
    client.on('message', (m) => {
      const { message } = JSON.parse(String(m)) as { message: string };
      if (message.startsWith('n ')) got.push(message.slice(0, 8));
    });
    await new Promise((r) => client.once('open', r));
    const raw = (client as unknown as { _socket: net.Socket })._socket;
    raw.pause(); // the client's side stops reading: its receive buffer fills, then the daemon's send buffer
    const s = await connect();
    const N = 24_000; // 1 KB lines: 24 MiB, three times what the daemon lets a reader leave unread
    for (let i = 0; i < N; i += 1000) {
      s.write(Buffer.concat(Array.from({ length: 1000 }, (_, j) => record(`jinad.${ws}.${pod}`, now(), `n ${String(i + j).padStart(6, '0')} ${'x'.repeat(1000)}`))));
    }
    s.end();
    await logOf(d.url, pod, new RegExp(`n ${String(N - 1).padStart(6, '0')}`)); // all written to the file meanwhile
    raw.resume();
    for (let i = 0; i < 500 && got.length < N; i++) await new Promise((r) => setTimeout(r, 20));
    client.close();
    assert.equal(got.length, N);
    assert.ok(got.every((m, i) => m === `n ${String(i).padStart(6, '0')}`), 'in order, each once');
  });
});
