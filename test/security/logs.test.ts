/** Logs stay correct under forged input (fake backend, real receiver): no line is dropped for its timestamp. */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { encode } from '@msgpack/msgpack';
import { createWorkspace, startFakeDaemon } from '../helpers.ts';

let d: Awaited<ReturnType<typeof startFakeDaemon>>;
before(async () => {
  d = await startFakeDaemon();
});
after(() => d?.cleanup());

const logOf = async (id: string, until: RegExp) => {
  let text = '';
  for (let i = 0; i < 300 && !until.test(text); i++) {
    text = await (await fetch(`${d.url}/logs/${id}`)).text();
    await new Promise((r) => setTimeout(r, 30));
  }
  return text;
};

describe('log records', () => {
  it('a record from the far future silences nothing after it; lines keep their arrival order and their source time', async () => {
    const ws = (await createWorkspace(d.url, { 'hi.ts': 'export class Hi {}\n' })).id;
    const pod = (await (await fetch(`${d.url}/pods?workspace_id=${ws}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uses: 'Hi', py_modules: ['hi.ts'] }) })).json()) as string;
    await logOf(pod, /pod started/);
    // Anyone on the machine can reach the receiver: forge a line dated in the year 2286.
    const sock = net.connect(d.logsPort, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write(encode([`jinad.${ws}.${pod}`, 9_999_999_999, { log: 'forged from the future', source: 'stdout' }, {}]));
    await logOf(pod, /forged from the future/);
    sock.destroy();
    assert.equal((await fetch(`${d.url}/pods/scale/${pod}?replicas=2`, { method: 'PUT' })).status, 200);
    const lines = (await logOf(pod, /pod updated/)).trim().split('\n').map((l) => JSON.parse(l));
    const messages = lines.map((l) => l.message);
    assert.ok(messages.indexOf('forged from the future') < messages.indexOf('pod updated'), messages.join(' | '));
    const forged = lines.find((l) => l.message === 'forged from the future');
    assert.match(forged.source_time, /^2286-/);
    // Jina's record fields, as its clients print a line: host, name, type.
    const started = lines.find((l) => l.message === 'pod started');
    assert.deepEqual([started.host, started.name, started.type], [pod, 'pod', 'INFO']);
    const build = (await (await fetch(`${d.url}/logs/${ws}`)).text()).trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual([build[0].host, build[0].name, build[0].type], ['jinad', 'build', 'INFO']);
    assert.ok(forged.time < '2100', 'time is when the daemon received it');
    for (let i = 1; i < lines.length; i++) assert.ok(lines[i].time >= lines[i - 1].time, 'lines are in arrival order');
  });
});

describe('forged records', () => {
  it('a tag that names no object of this daemon, another workspace, or a path writes nothing', async () => {
    const ws = (await createWorkspace(d.url, { 'hi.ts': 'export class Hi {}\n' })).id;
    const other = (await createWorkspace(d.url, { 'hi.ts': 'export class Hi {}\n' })).id;
    const pod = (await (await fetch(`${d.url}/pods?workspace_id=${ws}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uses: 'Hi', py_modules: ['hi.ts'] }) })).json()) as string;
    await logOf(pod, /pod started/);
    const sock = net.connect(d.logsPort, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    const unknown = 'jpea-00000000-0000-4000-8000-00000000dead';
    for (const tag of [`jinad.${ws}.${unknown}`, `jinad.${other}.${pod}`, `jinad.${ws}.${pod}.extra`, `jinad.${ws}./etc`, `jinad.${ws}.`, `jinad.${ws}.../../../tmp`, `jinad.../${ws}.${pod}`, `jinad.${ws}.${pod}/../../x`, `docker.${ws}.${pod}`]) {
      sock.write(encode([tag, Date.now() / 1000, { log: `forged via ${tag}`, source: 'stdout' }, {}]));
    }
    sock.write(encode([`jinad.${ws}.${pod}`, Date.now() / 1000, { log: 'the real one', source: 'stdout' }, {}]));
    const log = await logOf(pod, /the real one/);
    sock.destroy();
    assert.doesNotMatch(log, /forged via/);
    const daemonFiles = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(`${dir}/${f}`).isDirectory() ? daemonFiles(`${dir}/${f}`) : [`${dir}/${f}`]));
    const files = daemonFiles(`${d.root}/.daemon`).map((f) => f.slice(d.root.length));
    assert.ok(!files.some((f) => !/^\/\.daemon\/jworkspace-[0-9a-f-]{36}\/(logging\.log|logs\/j[a-z]+-[0-9a-f-]{36}\/logging\.log)$/.test(f)), files.join('\n'));
    const mine = files.filter((f) => f.includes('/logs/') && (f.includes(ws) || f.includes(other)));
    assert.deepEqual(mine, [`/.daemon/${ws}/logs/${pod}/logging.log`]);
    assert.equal((await fetch(`${d.url}/logs/${unknown}`)).status, 404);
  });
});
