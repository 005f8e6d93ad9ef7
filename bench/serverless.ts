/**
 * Scale to zero, measured in one run, medians over ROUNDS interleaved rounds:
 *  (a) the floor: `docker run` of the workspace's own image running `node -e` with an HTTP
 *      server, until it answers one request;
 *  (b) POST /flows (one TypeScript executor, idle_timeout set) until its gateway answers a
 *      document request;
 *  (c) the same Flow once idle (its container stopped) until a document request is answered (a wake).
 * Targets: (b) ≤ floor + 250 ms, (c) ≤ floor + 150 ms. Also: containers running while idle (target 0),
 * the first Flow of the workspace (no warm spare yet), and the warm spares' count and memory.
 *   node --import ./src/runtime/bootstrap.mjs bench/serverless.ts [rounds]
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { filesForm, waitForState } from '../test/helpers.ts';
import { benchDaemon, median, table } from './lib.ts';

const ROUNDS = Number(process.argv[2] ?? 10);
const IDLE_S = 1;
const fixtures = fileURLToPath(new URL('../test/fixtures/runtime/', import.meta.url));
const FLOW = 'jtype: Flow\nexecutors:\n  - name: tag\n    uses: Tagger\n    py_modules: [executors.ts]\n';
const DOC = JSON.stringify({ data: [{ text: 'hello' }] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Until `url` answers 200 (connection refused or reset while it starts), then the time since `t0`. */
async function answered(url: string, t0: number, init?: RequestInit): Promise<number> {
  for (;;) {
    const ok = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) }).then((r) => r.ok, () => false);
    if (ok) return performance.now() - t0;
    await sleep(5);
  }
}
const docRequest = { method: 'POST', headers: { 'content-type': 'application/json' }, body: DOC };

const d = await benchDaemon();
const floorNames: string[] = [];
try {
  const res = await fetch(`${d.url}/workspaces`, { method: 'POST', body: filesForm({ 'executors.ts': readFileSync(path.join(fixtures, 'executors.ts')), 'flow.yml': FLOW }) });
  const ws = Object.keys((await res.json()) as object)[0]!;
  const image = (await waitForState(d.url, ws, ['ACTIVE'])).metadata.image_name as string;
  const item = async (id: string) => (await (await fetch(`${d.url}/flows/${id}`)).json()) as { metadata: { status: string; ports: Record<string, number>; container_name: string } };

  async function floor(i: number): Promise<number> {
    const name = `jinad-bench-floor-${process.pid}-${i}`;
    floorNames.push(name);
    const port = 20_000 + (process.pid % 10_000) + i;
    const t0 = performance.now();
    execFileSync('docker', ['run', '-d', '--name', name, '--label', 'io.jinad.kind=bench', '-p', `127.0.0.1:${port}:9000`, '--entrypoint', 'node', image, '-e', "require('http').createServer((q, s) => s.end('ok')).listen(9000)"], { stdio: 'pipe' });
    const ms = await answered(`http://127.0.0.1:${port}/`, t0);
    execFileSync('docker', ['rm', '-f', name], { stdio: 'pipe' });
    return ms;
  }
  async function coldAndWake(): Promise<{ cold: number; wake: number; runningWhileIdle: number }> {
    const t0 = performance.now();
    const created = await fetch(`${d.url}/flows?workspace_id=${ws}&filename=flow.yml&idle_timeout=${IDLE_S}`, { method: 'POST' });
    const id = (await created.json()) as string;
    if (created.status !== 201) throw new Error(JSON.stringify(id));
    const url = `http://127.0.0.1:${(await item(id)).metadata.ports['8080/tcp']}/index`;
    const cold = await answered(url, t0, docRequest);
    while ((await item(id)).metadata.status !== 'idle') await sleep(50);
    const runningWhileIdle = execFileSync('docker', ['ps', '-q', '--filter', `name=^${id}$`]).toString().trim().split('\n').filter(Boolean).length;
    const wake = await answered(url, performance.now(), docRequest);
    await fetch(`${d.url}/flows/${id}`, { method: 'DELETE' });
    return { cold, wake, runningWhileIdle };
  }

  await floor(-1); // warm-up: the image's layers in the page cache
  // The workspace's first idle-enabled Flow: no warm spare exists yet (it makes the first one).
  const first = await coldAndWake();
  const a: number[] = [];
  const b: number[] = [];
  const c: number[] = [];
  let maxRunning = 0;
  for (let i = 0; i < ROUNDS; i++) {
    a.push(await floor(i));
    const r = await coldAndWake();
    b.push(r.cold);
    c.push(r.wake);
    maxRunning = Math.max(maxRunning, r.runningWhileIdle);
  }
  const row = (label: string, xs: number[], target?: number) => {
    const over = median(xs) - median(a);
    return [label, median(xs).toFixed(0), Math.min(...xs).toFixed(0), Math.max(...xs).toFixed(0), target === undefined ? '' : `${over < 0 ? '−' : '+'}${Math.abs(over).toFixed(0)} (target ≤ +${target})`];
  };
  console.log(`Scale to zero: ${ROUNDS} rounds, interleaved; a Flow with one TypeScript executor (Tagger), idle_timeout ${IDLE_S} s\n`);
  console.log(table([['', 'median ms', 'min', 'max', 'over the floor'], row('(a) floor: docker run node -e, one answer', a), row('(b) POST /flows → first answer', b, 250), row('(c) idle → first answer (wake)', c, 150)]));
  console.log(`\ncontainers running while idle: ${maxRunning} (target 0)`);
  console.log(`the workspace's first idle-enabled Flow (no spare yet): POST → first answer ${first.cold.toFixed(0)} ms, its wake ${first.wake.toFixed(0)} ms`);
  const spares = execFileSync('docker', ['ps', '-q', '--filter', 'label=io.jinad.spare', '--filter', `label=io.jinad.workspace=${ws}`]).toString().trim().split('\n').filter(Boolean);
  const memory = spares.length ? execFileSync('docker', ['stats', '--no-stream', '--format', '{{.MemUsage}}', ...spares]).toString().trim().split('\n').map((l) => l.split(' / ')[0]) : [];
  console.log(`warm spares of the workspace (shared by every Flow like it): ${spares.length}, memory ${memory.join(', ') || '-'}`);
  console.log(`rounds (a): ${a.map((x) => x.toFixed(0)).join(', ')}`);
  console.log(`rounds (b): ${b.map((x) => x.toFixed(0)).join(', ')}`);
  console.log(`rounds (c): ${c.map((x) => x.toFixed(0)).join(', ')}`);
} finally {
  for (const name of floorNames) execFileSync('docker', ['rm', '-f', name], { stdio: 'pipe' });
  await d.close();
}
