/**
 * 200 concurrent clients making mixed calls for a while, on the real Docker backend: 90% reads
 * (GET /status, /workspaces, /workspaces/{id}, /peas), 2% Pea create+delete, 8% workspace
 * upload+delete. Reports p50/p99 per kind of call and every status seen (no 5xx allowed), beside
 * a bare Hono route that a fifth of the reads go to, during the same load (same machine, same
 * clients, same moment); the daemon's own mean time in its read handlers; and what a lone
 * prober in its own process (bench/probe.mjs, one request at a time) sees meanwhile.
 * Targets (issue 11): at 200 concurrent, p99 < 500 ms for reads, < 2 s for deletes, no 5xx.
 *   node --import tsx bench/mixed-load.ts [clients=200] [seconds=20]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { filesForm, freePort, waitForState } from '../test/helpers.ts';
import { benchDaemon, median, percentile, startProcess, stopProcess, table } from './lib.ts';

const CLIENTS = Number(process.argv[2] ?? 200);
const SECONDS = Number(process.argv[3] ?? 20);
const executors = readFileSync(fileURLToPath(new URL('../test/fixtures/runtime/executors.ts', import.meta.url)));

type Kind = 'read' | 'create pea' | 'delete pea' | 'upload' | 'delete workspace' | 'bare Hono read (reference)' | `read ${string}`;
const latencies: Record<string, number[]> = { read: [], 'create pea': [], 'delete pea': [], upload: [], 'delete workspace': [] };
const errors: string[] = [];
const statuses = new Map<string, number>();
const count = (kind: string, status: number) => statuses.set(`${kind} ${status}`, (statuses.get(`${kind} ${status}`) ?? 0) + 1);
const timed = async (kind: Kind, fn: () => Promise<Response>) => {
  const t0 = performance.now();
  let res: Response;
  let text: string;
  try {
    res = await fn();
    text = await res.text();
  } catch (err) {
    // A connection that failed (reset, refused) is counted, by call, not fatal to the run.
    const code = ((err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).message).toString();
    errors.push(`${kind}: ${code}`);
    count(kind.startsWith('read ') ? 'read' : kind, 0);
    return { status: 0, json: () => undefined as unknown };
  }
  const took = performance.now() - t0;
  (latencies[kind] ??= []).push(took);
  if (kind.startsWith('read ')) {
    (latencies[kind.slice(0, 4)] ??= []).push(took);
  }
  if (res.status >= 500) errors.push(`${kind} ${res.status}: ${text.slice(0, 300)}`);
  count(kind.startsWith('read ') ? 'read' : kind, res.status);
  return { status: res.status, json: () => JSON.parse(text) as unknown };
};

const daemon = await benchDaemon({ JINAD_LOG_LEVEL: 'error' });
try {
  const base = daemon.url;
  const workspaces: string[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${base}/workspaces`, { method: 'POST', body: filesForm({ 'executors.ts': executors }) });
    const id = Object.keys((await res.json()) as object)[0]!;
    await waitForState(base, id, ['ACTIVE']);
    workspaces.push(id);
  }
  // The bare reference serves during the load, on the same machine: a fifth of the reads go to it.
  const barePort = await freePort();
  const bare = await startProcess('bench/bare-hono.ts', { BARE_PORT: String(barePort), BARE_BODY: '{"state":"ACTIVE"}' }, barePort);
  const deadline = Date.now() + SECONDS * 1000;
  const client = async (n: number) => {
    while (Date.now() < deadline) {
      const ws = workspaces[n % workspaces.length]!;
      const roll = Math.random();
      if (roll < 0.18) {
        await timed('bare Hono read (reference)', () => fetch(`http://127.0.0.1:${barePort}/workspaces/x`));
      } else if (roll < 0.9) {
        const which = Math.floor(Math.random() * 4);
        const path = ['/status', '/workspaces', `/workspaces/${ws}`, '/peas'][which]!;
        await timed(`read ${['/status', '/workspaces', '/workspaces/{id}', '/peas'][which]}`, () => fetch(`${base}${path}`));
      } else if (roll < 0.92) {
        const res = await timed('create pea', () =>
          fetch(`${base}/peas?workspace_id=${ws}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uses: 'Tagger', py_modules: ['executors.ts'] }) }),
        );
        if (res.status === 201) {
          const id = res.json() as string;
          await timed('delete pea', () => fetch(`${base}/peas/${id}`, { method: 'DELETE' }));
        }
      } else {
        const res = await timed('upload', () => fetch(`${base}/workspaces`, { method: 'POST', body: filesForm({ 'a.txt': 'a' }) }));
        const id = res.status === 201 ? Object.keys(res.json() as object)[0] : undefined;
        if (id) await timed('delete workspace', () => fetch(`${base}/workspaces/${id}?everything=true`, { method: 'DELETE' }));
      }
    }
  };
  // A prober in its own process, one request at a time: what a lone client sees during the load.
  const probeUrls = [`${base}/status`, `${base}/workspaces/${workspaces[0]}`, `http://127.0.0.1:${barePort}/workspaces/x`];
  const prober = spawn(process.execPath, [fileURLToPath(new URL('./probe.mjs', import.meta.url)), ...probeUrls], { stdio: ['ignore', 'pipe', 'inherit'] });
  let probed = '';
  prober.stdout.on('data', (b) => (probed += b));
  const probeDone = new Promise((r) => prober.once('close', r));
  // bench/profile-daemon.mjs with PROF_SIGNAL=1: a CPU profile of the daemon over the load.
  if (process.env.PROF_SIGNAL) process.kill(daemon.pid, 'SIGUSR2');
  try {
    await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));
  } finally {
    if (process.env.PROF_SIGNAL) process.kill(daemon.pid, 'SIGUSR2');
    prober.kill('SIGTERM');
    await probeDone;
    await stopProcess(bare);
  }
  const loop = ((await (await fetch(`${base}/status`)).json()) as { event_loop_delay_ms: Record<string, number> }).event_loop_delay_ms;

  const bareMs = latencies['bare Hono read (reference)'] ?? [];
  // The daemon's own count of its reads' time (from the request's arrival in Hono to its answer),
  // beside what the clients saw: what is left is queueing outside the handlers.
  const metrics = await (await fetch(`${base}/metrics`)).text();
  const served = (route: string, what: 'sum' | 'count') => {
    const line = metrics.split('\n').find((l) => l.startsWith(`jinad_http_request_duration_seconds_${what}{`) && l.includes(`route="${route}"`) && l.includes('method="GET"'));
    return Number(line?.split(' ').at(-1) ?? Number.NaN);
  };
  const servedMs = ['/status', '/workspaces', '/workspaces/:id', '/peas'].map((r) => `${r} ${((served(r, 'sum') / served(r, 'count')) * 1000).toFixed(2)} ms`);
  // The engine calls a workspace deletion must make (its containers listed, its network and its
  // image removed), as the daemon timed them in this run (jinad_backend_call_duration_seconds):
  // their mean exactly, their p99 as Prometheus' histogram_quantile estimates it from the buckets.
  const engineCall = (operation: string) => {
    const lines = metrics.split('\n').filter((l) => l.includes(`operation="${operation}"`));
    const value = (l: string) => Number(l.split(' ').at(-1));
    const sum = value(lines.find((l) => l.startsWith('jinad_backend_call_duration_seconds_sum')) ?? 'x NaN');
    const n = value(lines.find((l) => l.startsWith('jinad_backend_call_duration_seconds_count')) ?? 'x NaN');
    const buckets = lines.filter((l) => l.startsWith('jinad_backend_call_duration_seconds_bucket') && !l.includes('le="+Inf"')).map((l) => [Number(/le="([^"]+)"/.exec(l)![1]), value(l)] as const);
    let p99 = Number.NaN;
    for (let i = 0, below = 0, lower = 0; i < buckets.length; below = buckets[i]![1], lower = buckets[i]![0], i++) {
      const [le, cumulative] = buckets[i]!;
      if (cumulative >= 0.99 * n) {
        p99 = lower + ((le - lower) * (0.99 * n - below)) / Math.max(1, cumulative - below);
        break;
      }
    }
    return { meanMs: (sum / n) * 1000, p99Ms: p99 * 1000 };
  };
  const deletion = ['listOwned', 'removeIsolation', 'removeImage'].map((op) => [op, engineCall(op)] as const);
  const engineMean = deletion.reduce((a, [, c]) => a + c.meanMs, 0);
  const engineP99 = deletion.reduce((a, [, c]) => a + c.p99Ms, 0);
  const deletes = latencies['delete workspace'] ?? [];
  const meanOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

  console.log(`${CLIENTS} concurrent clients for ${SECONDS} s on the Docker backend\n`);
  const rows: (string | number)[][] = [['calls', 'count', 'p50 ms', 'p99 ms']];
  for (const [kind, xs] of Object.entries(latencies).sort(([a], [b]) => a.localeCompare(b))) if (xs.length) rows.push([kind, xs.length, median(xs).toFixed(0), percentile(xs, 99).toFixed(0)]);
  console.log(table(rows));
  console.log(`\nthe daemon's event loop delay over the run: p50 ${loop.p50?.toFixed(1)} ms, p99 ${loop.p99?.toFixed(1)} ms, max ${loop.max?.toFixed(0)} ms`);
  const probes = JSON.parse(probed || '{}') as Record<string, number[]>;
  console.log(`a lone prober (its own process, one request at a time), p50 / p99 ms: ${probeUrls.map((u, i) => `${['/status', '/workspaces/{id}', 'bare Hono'][i]} ${median(probes[u] ?? []).toFixed(1)} / ${percentile(probes[u] ?? [], 99).toFixed(1)} (${probes[u]?.length ?? 0})`).join(', ')}`);
  console.log(`a workspace deletion's engine calls (the daemon's own timing): ${deletion.map(([op, c]) => `${op} mean ${c.meanMs.toFixed(0)} / p99 ~${c.p99Ms.toFixed(0)} ms`).join(', ')}`);
  console.log(`workspace DELETE / its engine calls: mean ${(meanOf(deletes) / engineMean).toFixed(2)} (${meanOf(deletes).toFixed(0)} / ${engineMean.toFixed(0)} ms), p99 ${(percentile(deletes, 99) / engineP99).toFixed(2)} (${percentile(deletes, 99).toFixed(0)} / ~${engineP99.toFixed(0)} ms)`);
  console.log(`the daemon's mean time in its read handlers (its own metric): ${servedMs.join(', ')}`);
  console.log(`read p99, jinad / bare: ${(percentile(latencies.read, 99) / percentile(bareMs, 99)).toFixed(2)}`);
  console.log(`statuses: ${[...statuses.entries()].sort().map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  const fives = [...statuses.entries()].filter(([k]) => / 5\d\d$/.test(k));
  console.log(fives.length ? `5xx seen: ${fives.map(([k, v]) => `${k} ×${v}`).join(', ')}` : 'no 5xx');
  if (errors.length) console.log(`errors (status 0: the connection failed):\n${[...new Set(errors)].map((e) => `${e} ×${errors.filter((x) => x === e).length}`).join('\n')}`);
} finally {
  await daemon.close();
}
