/**
 * Containers the daemon starts, looked at from inside (a probe run as the workspace's `run`
 * command) and with the engine's eyes: an unprivileged user that can write the work directory,
 * no capabilities, no-new-privileges, the pids/memory/CPU limits given, no Docker socket, and
 * the daemon's API (listening on every address here, authentication on) refusing it without a
 * token. A memory hog is OOM-killed and reported as such.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { callJson, createWorkspace, docker, startDaemon, type TestDaemon, waitForState } from '../helpers.ts';

let d: TestDaemon;
let url: string;
before(async () => {
  d = await startDaemon({ config: { auth: true, host: '0.0.0.0', containerLimits: { memory: '256m', pids: 200 } } });
  url = d.url.replace('0.0.0.0', '127.0.0.1'); // the test itself talks to loopback only
});
after(() => d?.cleanup());

/** Prints one `PROBE {…}` line: who it runs as, what it may do, what it can reach. */
const probe = (port: number, logsPort: number) => `
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
const read = (...files) => { for (const f of files) { try { return readFileSync(f, 'utf8').trim(); } catch {} } return null; };
const status = readFileSync('/proc/self/status', 'utf8');
const field = (k) => new RegExp('^' + k + ':\\\\s*(.*)$', 'm').exec(status)?.[1];
// The default route's gateway: the host, as this container's network sees it.
const route = readFileSync('/proc/net/route', 'utf8').split('\\n').map((l) => l.split('\\t')).find((f) => f[1] === '00000000');
const gw = route[2].match(/../g).reverse().map((h) => parseInt(h, 16)).join('.');
const status_of = (p, init) => fetch('http://' + gw + ':${port}' + p, init).then((r) => r.status, (e) => 'unreachable: ' + e.message);
// The log receiver listens on loopback: from a container, nothing answers there.
const receiver = await new Promise((resolve) => {
  const s = net.connect(${logsPort}, gw);
  s.once('connect', () => { s.destroy(); resolve('connected'); });
  s.once('error', (e) => resolve(e.code));
  setTimeout(() => { s.destroy(); resolve('timeout'); }, 3000);
});
let wrote = false;
try { writeFileSync('/workspace/written-by-probe.txt', 'x'); wrote = true; } catch {}
console.log('PROBE ' + JSON.stringify({
  uid: process.getuid(), gid: process.getgid(), wrote,
  capEff: field('CapEff'), capBnd: field('CapBnd'), noNewPrivs: field('NoNewPrivs'),
  pidsMax: read('/sys/fs/cgroup/pids.max', '/sys/fs/cgroup/pids/pids.max'),
  memoryMax: read('/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes'),
  dockerSocket: existsSync('/var/run/docker.sock') || existsSync('/run/docker.sock'),
  liveness: await status_of('/'),
  list: await status_of('/workspaces'),
  create: await status_of('/workspaces', { method: 'DELETE' }),
  receiver,
}));
`;

const probeResult = async (id: string) => {
  for (let i = 0; i < 300; i++) {
    const line = (await docker.containerLogs(id, 50)).find((l) => l.startsWith('PROBE '));
    if (line) return JSON.parse(line.slice(6));
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no probe output from ${id}: ${(await docker.containerLogs(id, 50)).join('\n')}`);
};

describe('containers the daemon starts', () => {
  it('run unprivileged, hardened and limited, and cannot use the API without a token', async () => {
    const port = Number(new URL(url).port);
    const { id, item } = await createWorkspace(url, { 'probe.mjs': probe(port, d.logsPort), '.jinad': 'run = node probe.mjs\npids = 128\nmemory = 128m\ncpus = 0.5\n' }, '', { token: d.adminToken });
    assert.equal(item.state, 'ACTIVE', item.reason);
    const p = await probeResult(id);
    assert.equal(p.uid, 10001);
    assert.equal(p.gid, 10001);
    assert.equal(p.wrote, true, 'the work directory is writable by the object user');
    assert.equal(p.capEff, '0000000000000000');
    assert.equal(p.capBnd, '0000000000000000');
    assert.equal(p.noNewPrivs, '1');
    assert.equal(p.pidsMax, '128');
    assert.equal(Number(p.memoryMax), 128 * 1024 ** 2);
    assert.equal(p.dockerSocket, false);
    assert.equal(p.liveness, 200, 'the API is reachable from the container');
    assert.equal(p.list, 401, 'but refuses it without a token');
    assert.equal(p.create, 401);
    assert.notEqual(p.receiver, 'connected', 'the log receiver is not reachable from a container');
    const c = await docker.engine.getContainer(id).inspect();
    assert.equal(c.Config.User, '10001:10001');
    assert.deepEqual(c.HostConfig.CapDrop, ['ALL']);
    assert.deepEqual(c.HostConfig.SecurityOpt, ['no-new-privileges:true']);
    assert.equal(c.HostConfig.NanoCpus, 5e8);
    assert.equal(c.HostConfig.Binds?.some((b) => b.includes('docker.sock')), false);
  });

  it('a Pea gets the daemon’s defaults, or its own limits from its arguments', async () => {
    const { id: ws } = await createWorkspace(url, { 'hi.ts': "import { Executor } from 'jinad';\nexport class Hi extends Executor {}\n" }, '', { token: d.adminToken });
    const own = await callJson(url, 'POST', `/peas?workspace_id=${ws}`, { uses: 'Hi', py_modules: ['hi.ts'], memory: '300m', pids: 300 }, d.adminToken);
    assert.equal(own.status, 201, JSON.stringify(own.body));
    const dflt = await callJson(url, 'POST', `/peas?workspace_id=${ws}`, { uses: 'Hi', py_modules: ['hi.ts'] }, d.adminToken);
    assert.equal(dflt.status, 201, JSON.stringify(dflt.body));
    const hc = async (id: string) => (await docker.engine.getContainer(id).inspect()).HostConfig;
    assert.deepEqual([(await hc(own.body)).Memory, (await hc(own.body)).PidsLimit], [300 * 1024 ** 2, 300]);
    assert.deepEqual([(await hc(dflt.body)).Memory, (await hc(dflt.body)).PidsLimit], [256 * 1024 ** 2, 200]);
  });

  it('a memory hog is OOM-killed, and its live status and its log say so', async () => {
    const hog = "const kept = []; for (;;) kept.push(Buffer.alloc(4 << 20, 1));\n";
    const { id, item } = await createWorkspace(url, { 'hog.mjs': hog, '.jinad': 'run = node hog.mjs\nmemory = 64m\n' }, '', { token: d.adminToken });
    assert.equal(item.state, 'ACTIVE', item.reason);
    let got: Record<string, any> = item;
    for (let i = 0; i < 300 && got.metadata.container_oom_killed !== true; i++) {
      await new Promise((r) => setTimeout(r, 100));
      got = await waitForState(url, id, ['ACTIVE'], 10_000, d.adminToken);
    }
    assert.deepEqual([got.metadata.container_status, got.metadata.container_exit_code, got.metadata.container_oom_killed], ['exited', 137, true]);
    const log = path.join(d.root, '.daemon', id, 'logs', id, 'logging.log');
    let text = '';
    for (let i = 0; i < 100 && !/OOM/.test(text); i++) {
      text = (() => {
        try {
          return readFileSync(log, 'utf8');
        } catch {
          return '';
        }
      })();
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(text, /killed for going over its memory limit \(OOM, exit code 137\)/);
  });
});
