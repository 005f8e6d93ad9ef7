/**
 * Traffic into a Flow in a container, measured in one run, side by side:
 *  - the daemon's Flow, its gateway port handed over directly (src/backend/docker/handoff.ts);
 *  - the same image and command run by hand with `docker run -p` (Docker's userland proxy);
 *  - the same command run locally, no container (the floor): the partial daemon as its own
 *    process on the host, as a user runs the runtime without Docker (a Flow inside this
 *    process would share the client's event loop, and save a process hop nobody else saves).
 * For 1, 8 and 64 requests in flight: documents per second and p50/p99 latency, in rounds that
 * alternate the three so that the machine's drift hits each alike. Target: direct ≥ 0.95× local.
 *   node --import ./src/runtime/bootstrap.mjs bench/container-traffic.ts [requests per round] [rounds]
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { filesForm, freePort, waitForState } from '../test/helpers.ts';
import { benchDaemon, median, percentile, REPO, stopProcess, table } from './lib.ts';

const REQUESTS = Number(process.argv[2] ?? 5000);
const ROUNDS = Number(process.argv[3] ?? 3);
const fixtures = fileURLToPath(new URL('../test/fixtures/runtime/', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const docs = JSON.stringify({ data: Array.from({ length: 10 }, (_, i) => ({ text: `doc ${i}` })) });

async function until(url: string, init?: RequestInit): Promise<void> {
  for (let i = 0; i < 1500; i++) {
    try {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await sleep(20);
  }
  throw new Error(`${url} never answered`);
}

function post(agent: http.Agent, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const r = http.request({ agent, port, host: '127.0.0.1', path: '/index', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(docs) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    r.on('error', reject);
    r.end(docs);
  });
}

/** `REQUESTS` requests, `inFlight` at a time: elapsed ms and each request's latency. */
async function round(port: number, inFlight: number): Promise<{ ms: number; lat: number[] }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: inFlight });
  for (let i = 0; i < Math.min(500, REQUESTS); i++) await post(agent, port); // warm: connections, JIT
  const lat: number[] = [];
  let left = REQUESTS;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (left-- > 0) {
        const s = performance.now();
        await post(agent, port);
        lat.push(performance.now() - s);
      }
    }),
  );
  const ms = performance.now() - t0;
  agent.destroy();
  return { ms, lat };
}

const daemon = await benchDaemon();
const byHand = 'jinad-bench-traffic-proxy';
let local: ChildProcess | undefined;
try {
  const res = await fetch(`${daemon.url}/workspaces`, { method: 'POST', body: filesForm({ 'executors.ts': readFileSync(path.join(fixtures, 'executors.ts')), 'noop.yml': readFileSync(path.join(fixtures, 'noop.yml')) }) });
  const ws = Object.keys((await res.json()) as object)[0]!;
  const item = await waitForState(daemon.url, ws, ['ACTIVE']);
  const image = item.metadata.image_name as string;

  const made = await fetch(`${daemon.url}/flows?workspace_id=${ws}&filename=noop.yml`, { method: 'POST' });
  const id = (await made.json()) as string;
  if (made.status !== 201) throw new Error(JSON.stringify(id));
  const flow = (await (await fetch(`${daemon.url}/flows/${id}`)).json()) as { metadata: { ports: Record<string, number> } };
  const direct = flow.metadata.ports['8080/tcp']!;
  const published = execFileSync('docker', ['port', id]).toString().trim();
  if (published.includes('8080')) throw new Error(`the daemon's Flow publishes 8080 through Docker (${published}): direct ports are off`);
  await until(`http://127.0.0.1:${direct}/`);

  execFileSync('docker', ['run', '-d', '--init', '--name', byHand, '--label', 'io.jinad.kind=bench', '--network', ws, '-v', `${path.join(daemon.root, ws)}:/workspace`, '-w', '/workspace',
    '-p', '127.0.0.1::8000', '-p', '127.0.0.1::8080', '--entrypoint', 'node', image, '/opt/jinad/runtime/bin.mjs', 'partial', '--mode', 'flow', '--port', '8000', '--workspace', '/workspace'], { stdio: 'pipe' });
  const portOf = (p: number) => Number(execFileSync('docker', ['port', byHand, String(p)]).toString().split('\n')[0]!.split(':').pop());
  await until(`http://127.0.0.1:${portOf(8000)}/`);
  await until(`http://127.0.0.1:${portOf(8000)}/flow`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ flow: { uses: 'noop.yml', port_expose: 8080 }, envs: {} }) });
  const proxied = portOf(8080);
  await until(`http://127.0.0.1:${proxied}/`);

  const [partialPort, gatewayPort] = [await freePort(), await freePort()];
  local = spawn(process.execPath, [path.join(REPO, 'src/runtime/bin.mjs'), 'partial', '--mode', 'flow', '--port', String(partialPort), '--workspace', path.join(daemon.root, ws)], { stdio: ['ignore', 'pipe', 'pipe'] });
  local.stdout!.resume(); // its request log, read as Docker reads a container's
  local.stderr!.resume();
  await until(`http://127.0.0.1:${partialPort}/`);
  await until(`http://127.0.0.1:${partialPort}/flow`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ flow: { uses: 'noop.yml', port_expose: gatewayPort }, envs: {} }) });
  await until(`http://127.0.0.1:${gatewayPort}/`);
  const paths = { 'direct (handed socket)': direct, 'docker-proxy (-p)': proxied, 'local runtime': gatewayPort };

  console.log(`${REQUESTS} requests of 10 docs per round, ${ROUNDS} rounds, the three paths alternating\n`);
  for (const inFlight of [1, 8, 64]) {
    const runs = new Map<string, { ms: number; lat: number[] }[]>(Object.keys(paths).map((k) => [k, []]));
    for (let r = 0; r < ROUNDS; r++) for (const [name, port] of Object.entries(paths)) runs.get(name)!.push(await round(port, inFlight));
    const rate = (name: string) => median(runs.get(name)!.map((x) => (REQUESTS * 10) / (x.ms / 1000)));
    const floor = rate('local runtime');
    const rows: (string | number)[][] = [['', 'docs/s (median)', '× local', 'p50 ms', 'p99 ms']];
    for (const name of Object.keys(paths)) {
      const lat = runs.get(name)!.flatMap((x) => x.lat);
      rows.push([name, rate(name).toFixed(0), (rate(name) / floor).toFixed(2), percentile(lat, 50).toFixed(2), percentile(lat, 99).toFixed(2)]);
    }
    console.log(`${inFlight} in flight\n${table(rows)}\n`);
  }
} finally {
  if (local) await stopProcess(local);
  execFileSync('docker', ['rm', '-f', byHand], { stdio: 'ignore' });
  await fetch(`${daemon.url}/workspaces`, { method: 'DELETE' }).catch(() => undefined);
  await daemon.close();
}
