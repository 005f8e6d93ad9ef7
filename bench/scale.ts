/**
 * Many tenants on one engine: workspaces (identical files, so one shared image) and Peas, on the
 * real Docker backend, the daemon in its own process. At each step: time per create, list
 * latency (p50/p99 of sequential GETs) beside a bare Hono route serving the same JSON, and the
 * daemon's RSS. Then a restart with everything in place (SIGTERM → `GET /peas` lists every Pea
 * running again), and deleting everything.
 * Targets (issue 11): 500 workspaces with networks; restart-to-ready ≤ 2 s at 200 objects.
 *   node --import tsx bench/scale.ts [workspaces=500] [peas=200]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { filesForm, freePort, waitForState } from '../test/helpers.ts';
import { benchDaemon, median, percentile, rssMiB, startProcess, stopProcess, table } from './lib.ts';

const WORKSPACES = Number(process.argv[2] ?? 500);
const PEAS = Number(process.argv[3] ?? 200);
const STEPS_WS = [10, 100, 500].filter((n) => n < WORKSPACES).concat(WORKSPACES);
const STEPS_PEAS = [10, 100, 200].filter((n) => n < PEAS).concat(PEAS);
const PEA_WORKSPACES = 20; // Peas spread over the first 20 workspaces (per-workspace replica limit)
const executors = readFileSync(fileURLToPath(new URL('../test/fixtures/runtime/executors.ts', import.meta.url)));

async function pool<T>(n: number, width: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  }));
  return out;
}

async function listLatency(url: string, n = 40): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(url);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${url} → ${res.status}`);
    ms.push(performance.now() - t0);
  }
  return ms;
}

/** The same JSON from a bare Hono route (started as the daemon is), and its latency. */
async function bareLatency(body: string): Promise<number[]> {
  const port = await freePort();
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'jinad-bare-')), 'body.json');
  writeFileSync(file, body);
  const bare = await startProcess('bench/bare-hono.ts', { BARE_PORT: String(port), BARE_BODY_FILE: file }, port);
  try {
    await listLatency(`http://127.0.0.1:${port}/workspaces/x`, 10);
    return await listLatency(`http://127.0.0.1:${port}/workspaces/x`);
  } finally {
    await stopProcess(bare);
    rmSync(path.dirname(file), { recursive: true, force: true });
  }
}

const ms = (xs: number[]) => `${median(xs).toFixed(1)} / ${percentile(xs, 99).toFixed(1)}`;
const env = { JINAD_LOG_LEVEL: 'error' };
let daemon = await benchDaemon(env);
const rows: (string | number)[][] = [['step', 'create ms (mean)', 'list p50 / p99 ms', 'bare p50 / p99 ms', 'list ratio p50', 'RSS MiB']];
try {
  /** Create up to each step's count (four at a time), then measure the list at `route` and the RSS. */
  const steps = async (what: string, counts: number[], route: string, create: (i: number) => Promise<void>) => {
    let made = 0;
    for (const step of counts) {
      const t0 = performance.now();
      await pool(step - made, 4, (i) => create(made + i));
      const perCreate = (performance.now() - t0) / (step - made);
      made = step;
      const list = await listLatency(`${daemon.url}${route}`);
      const bare = await bareLatency(await (await fetch(`${daemon.url}${route}`)).text());
      rows.push([`${step} ${what}`, perCreate.toFixed(0), ms(list), ms(bare), (median(list) / median(bare)).toFixed(2), rssMiB(daemon.pid).toFixed(0)]);
      console.log(rows.at(-1)!.join('  '));
    }
  };
  // Workspaces: identical files, so every build after the first is all cache.
  const workspaces: string[] = [];
  await steps('workspaces', STEPS_WS, '/workspaces', async (i) => {
    const res = await fetch(`${daemon.url}/workspaces`, { method: 'POST', body: filesForm({ 'executors.ts': executors }) });
    const id = Object.keys((await res.json()) as object)[0]!;
    const item = await waitForState(daemon.url, id, ['ACTIVE', 'FAILED'], 600_000);
    if (item.state !== 'ACTIVE') throw new Error(`${id} FAILED: ${item.reason}`);
    workspaces[i] = id;
  });
  // Peas in the first workspaces.
  await steps('peas', STEPS_PEAS, '/peas', async (i) => {
    const ws = workspaces[i % PEA_WORKSPACES]!;
    const res = await fetch(`${daemon.url}/peas?workspace_id=${ws}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uses: 'Tagger', py_modules: ['executors.ts'] }) });
    if (res.status !== 201) throw new Error(`POST /peas → ${res.status} ${await res.text()}`);
  });

  // Restart with everything in place: from the new process's spawn until GET /peas lists every Pea running.
  const t0 = performance.now();
  const restarted = await daemon.restart();
  daemon = restarted;
  const up = performance.now() - t0 - restarted.stopMs;
  for (;;) {
    const peas = (await (await fetch(`${daemon.url}/peas`)).json()) as { items: Record<string, { metadata: { status: string } }> };
    const running = Object.values(peas.items).filter((p) => p.metadata.status === 'running').length;
    if (running === PEAS) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const ready = performance.now() - t0 - restarted.stopMs;
  // Where the new process's start went: each step's end, ms since the process started.
  const startSteps = ((await (await fetch(`${daemon.url}/status`)).json()) as { start_ms: Record<string, number> }).start_ms;

  const t1 = performance.now();
  const del = await fetch(`${daemon.url}/workspaces`, { method: 'DELETE' });
  if (del.status !== 200) throw new Error(`DELETE /workspaces → ${del.status} ${await del.text()}`);
  const deleted = performance.now() - t1;

  console.log(`\n${WORKSPACES} workspaces, ${PEAS} Peas on the Docker backend\n`);
  console.log(table(rows));
  console.log(`\nrestart: the old process stopped in ${(restarted.stopMs / 1000).toFixed(2)} s; the new one answered GET / ${(up / 1000).toFixed(2)} s after its spawn, and listed every Pea running at ${(ready / 1000).toFixed(2)} s (target ≤ 2 s)`);
  console.log(`start steps of the new process (ms since it started): ${Object.entries(startSteps).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`delete everything (DELETE /workspaces): ${(deleted / 1000).toFixed(1)} s, ${(deleted / WORKSPACES).toFixed(0)} ms per workspace`);
} finally {
  await daemon.close();
}
