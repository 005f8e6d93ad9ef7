/**
 * A lean daemon (issue 28): what an idle daemon holds and how soon it answers, beside the bare
 * references measured in the same run.
 *  1. spawn → `GET /` answered, and RSS / private dirty memory after 3 s and 45 s idle (settled:
 *     V8 has given back what start-up grew), for the daemon as
 *     `npm start` runs it (its bundle) on the fake backend and on the Docker Engine (empty, its
 *     own root and instance label), against a bare Node process and a bare Hono server
 *     (@hono/node-server, one route) started the same way;
 *  2. what each heavy dependency costs a process by itself at start: RSS over a bare Node process
 *     and the import's time.
 *   node --import tsx bench/idle.ts [starts=5]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { daemonBundle } from '../src/bundle.mjs';
import { freePort, removeLabelled } from '../test/helpers.ts';
import { REPO, median, table } from './lib.ts';

const STARTS = Number(process.argv[2] ?? 5);
const IDLE_MS = 3000;
const SETTLED_MS = 45_000;

/** VmRSS and Private_Dirty of a process, MiB. */
function memory(pid: number): { rss: number; dirty: number } {
  const kb = (file: string, key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/${file}`, 'utf8'))![1]) / 1024;
  return { rss: kb('status', 'VmRSS'), dirty: kb('smaps_rollup', 'Private_Dirty') };
}

async function answered(port: number, since: number, child: ChildProcess): Promise<number> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      return performance.now() - since;
    } catch {
      await new Promise((r) => setTimeout(r, 5)); // polling for the port to answer: the thing measured
    }
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await gone;
}

interface Sample { ms: number; rss: number; dirty: number; settledRss: number; settledDirty: number }
/** A server that answered, idling: sampled again once it has settled, then stopped. */
interface Idling { sample: Sample; child: ChildProcess; since: number; cleanup: () => Promise<void> }

/** One start of a server: spawn, time to its first answer, memory once idle; it keeps running (see settle). */
async function once(args: string[], env: Record<string, string>, port: number, cleanup = async () => {}): Promise<Idling> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    const ms = await answered(port, t0, child);
    await new Promise((r) => setTimeout(r, IDLE_MS)); // idle: what it holds when nothing happens
    const { rss, dirty } = memory(child.pid!);
    return { sample: { ms, rss, dirty, settledRss: Number.NaN, settledDirty: Number.NaN }, child, since: performance.now() - IDLE_MS, cleanup };
  } catch (err) {
    await stop(child);
    await cleanup();
    throw err;
  }
}

/**
 * The same servers once SETTLED_MS idle: V8 gives back the young generation start-up grew (its
 * memory reducer runs after some idle seconds), which is what a daemon left alone holds.
 */
async function settle(round: Idling[]): Promise<Sample[]> {
  const last = Math.max(...round.map((r) => r.since));
  await new Promise((r) => setTimeout(r, Math.max(0, last + SETTLED_MS - performance.now())));
  return Promise.all(round.map(async ({ sample, child, cleanup }) => {
    const m = memory(child.pid!);
    await stop(child);
    await cleanup();
    return { ...sample, settledRss: m.rss, settledDirty: m.dirty };
  }));
}

async function daemon(backend: 'fake' | 'docker'): Promise<Idling> {
  const port = await freePort();
  const root = mkdtempSync(path.join(tmpdir(), 'jinad-idle-'));
  const instance = `bench-idle-${process.pid}-${port}`;
  const env = { JINAD_PORT: String(port), JINAD_ROOT: root, JINAD_INSTANCE: instance, JINAD_LOG_LEVEL: 'warn', JINAD_AUTH: 'off' };
  return once(['src/start.mjs', '--backend', backend], env, port, async () => {
    if (backend === 'docker') await removeLabelled(instance);
    rmSync(root, { recursive: true, force: true });
  });
}

const BARE_HONO = `import { serve } from '@hono/node-server'; import { Hono } from 'hono';
const app = new Hono(); app.get('/', (c) => c.json({}));
serve({ fetch: app.fetch, hostname: '127.0.0.1', port: Number(process.env.BARE_PORT) });`;
const BARE_NODE = `import http from 'node:http'; http.createServer((q, s) => s.end('{}')).listen(Number(process.env.BARE_PORT), '127.0.0.1');`;

async function bare(code: string): Promise<Idling> {
  const port = await freePort();
  return once(['--input-type=module', '-e', code], { BARE_PORT: String(port) }, port);
}

/** A dependency alone: RSS of a process that imported it, and the import's time. */
function moduleCost(specifier: string): Promise<{ rss: number; ms: number }> {
  const code = `import fs from 'node:fs'; const t0 = performance.now(); await import(${JSON.stringify(specifier)}); const ms = performance.now() - t0;
setTimeout(() => { console.log(JSON.stringify({ ms, rss: Number(/VmRSS:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) / 1024 })); }, 300);`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (c) => (out += c));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`${specifier}: exit ${code}`))));
  });
}

await daemonBundle(); // built ahead, not by the first start measured
const runs: Record<string, Sample[]> = { node: [], hono: [], fake: [], docker: [] };
for (let i = 0; i < STARTS; i++) {
  // Interleaved, so the machine's moods fall on all alike.
  // Each is started while the ones before it idle (an idle server takes no CPU), then all settle.
  const round = [await bare(BARE_NODE), await bare(BARE_HONO), await daemon('fake'), await daemon('docker')];
  const [node, hono, fake, docker] = await settle(round);
  runs.node!.push(node!);
  runs.hono!.push(hono!);
  runs.fake!.push(fake!);
  runs.docker!.push(docker!);
}
const m = (k: string, f: keyof Sample) => median(runs[k]!.map((s) => s[f]));
console.log(`${STARTS} starts each, medians; memory after ${IDLE_MS / 1000} s and after ${SETTLED_MS / 1000} s idle\n`);
console.log(table([
  ['', 'spawn → GET / ms', `RSS MiB at ${IDLE_MS / 1000} s`, 'private dirty', `RSS MiB at ${SETTLED_MS / 1000} s`, 'private dirty', 'settled RSS ÷ bare Hono', 'start ÷ bare Hono'],
  ...[['bare node:http', 'node'], ['bare Hono', 'hono'], ['jinad, fake backend', 'fake'], ['jinad, Docker Engine', 'docker']].map(([name, k]) => [
    name!, m(k!, 'ms').toFixed(0), m(k!, 'rss').toFixed(1), m(k!, 'dirty').toFixed(1), m(k!, 'settledRss').toFixed(1), m(k!, 'settledDirty').toFixed(1),
    (m(k!, 'settledRss') / m('hono', 'settledRss')).toFixed(2), (m(k!, 'ms') / m('hono', 'ms')).toFixed(2),
  ]),
]));

const baseline = median(await Promise.all([0, 1, 2].map(() => moduleCost('node:os'))).then((r) => r.map((x) => x.rss)));
const mods = ['hono', '@hono/node-server', '@libsql/client', 'drizzle-orm', 'dockerode', '@grpc/grpc-js', 'prom-client', 'yaml', 'valibot', 'ws', 'undici', './src/dist/daemon.mjs'];
const rows: (string | number)[][] = [['imported alone', 'RSS over bare Node, MiB', 'import ms']];
for (const spec of mods) {
  const r = await moduleCost(spec);
  rows.push([spec, (r.rss - baseline).toFixed(1), r.ms.toFixed(0)]);
}
console.log(`\nbare Node process: ${baseline.toFixed(1)} MiB\n`);
console.log(table(rows));
process.exit(0);
