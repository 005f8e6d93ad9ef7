/** Shared bench helpers: a daemon in its own process (as `npm start` runs it), stats, cleanup. */
import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import { closeSync, existsSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { daemonBundle } from '../src/bundle.mjs';
import { filesForm, freePort, removeLabelled, retryFetch, waitForState } from '../test/helpers.ts';

export const REPO = fileURLToPath(new URL('..', import.meta.url));

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
export const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

/** The daemon as `npm start` starts it (its bundle); BENCH_DAEMON=src/main.ts: the sources through tsx. */
const START = 'src/start.mjs';
const DAEMON = process.env.BENCH_DAEMON ?? START;

/** Start an entry point (a .ts one with `node --import tsx`) and wait for `GET /`. */
export async function startProcess(entry: string, env: Record<string, string>, port: number): Promise<ChildProcess> {
  // Built here, if a source changed, not by the first daemon: it would carry esbuild's service
  // process and loader thread, and an A/A of two identical daemons measured 0.88 instead of ~1.
  if (entry === START) await daemonBundle();
  const child = spawn(process.execPath, [...(entry.endsWith('.ts') ? ['--import', 'tsx'] : []), entry], { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  await retryFetch(`http://127.0.0.1:${port}/`, 30_000);
  return child;
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

export interface BenchDaemon {
  url: string;
  root: string;
  /** The admin token it made (authentication on), else undefined. */
  token?: string;
  pid: number;
  /** SIGTERM, then a new process on the same root, port and instance (what it made stays). */
  restart(): Promise<BenchDaemon & { stopMs: number }>;
  /** Stop, and remove everything it made. */
  close(): Promise<void>;
}

/**
 * A daemon on a free port with its own root and instance label; `close` removes all it made.
 * Authentication is off unless `JINAD_AUTH: 'on'` is given: the benches measure the work, and
 * bench/auth.ts measures what a token check adds.
 */
export async function benchDaemon(extraEnv: Record<string, string> = {}): Promise<BenchDaemon> {
  const port = await freePort();
  const root = mkdtempSync(path.join(tmpdir(), 'jinad-bench-'));
  const instance = `bench-${process.pid}-${port}`;
  const env = { JINAD_PORT: String(port), JINAD_ROOT: root, JINAD_INSTANCE: instance, JINAD_LOG_LEVEL: 'warn', JINAD_LOGS_PORT: String(await freePort()), JINAD_AUTH: 'off', ...extraEnv };
  const tokenFile = path.join(root, 'admin.token');
  const handle = (child: ChildProcess): BenchDaemon => ({
    url: `http://127.0.0.1:${port}`,
    root,
    token: existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined,
    pid: child.pid!,
    async restart() {
      const t0 = performance.now();
      await stopProcess(child);
      const stopMs = performance.now() - t0;
      return { ...handle(await startProcess(DAEMON, env, port)), stopMs };
    },
    async close() {
      await stopProcess(child);
      await removeLabelled(instance);
      rmSync(root, { recursive: true, force: true });
    },
  });
  return handle(await startProcess(DAEMON, env, port));
}

/** A process's resident memory now, in MiB (Linux /proc). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

export function table(rows: (string | number)[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => String(c).padEnd(widths[i]!)).join('  ')).join('\n');
}

/** POST JSON over a keep-alive agent and parse the answer (no fetch: its per-request cost would be measured too). */
export function postJson(agent: http.Agent, port: number, path: string, body: unknown): Promise<any> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const r = http.request({ agent, port, host: '127.0.0.1', path, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString())));
    });
    r.on('error', reject);
    r.end(data);
  });
}

/** CPU seconds a process has used (user + system, from /proc; 0 when it is gone). */
export function cpuSeconds(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/** The last 4 KB of a file (read without loading the rest: a bench shares the machine with the daemon). */
export function fileTail(file: string): string {
  if (!existsSync(file)) return '';
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(Math.min(4096, size));
    readSync(fd, buf, 0, buf.length, size - buf.length);
    return buf.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** A workspace with test/fixtures/runtime/emitter.ts and a Pea of its Emitter (prints `emit <ms> <seq>` lines on request). */
export async function emitterPea(url: string): Promise<{ ws: string; id: string }> {
  const fixture = fileURLToPath(new URL('../test/fixtures/runtime/emitter.ts', import.meta.url));
  const created = await fetch(`${url}/workspaces`, { method: 'POST', body: filesForm({ 'emitter.ts': readFileSync(fixture) }) });
  const ws = Object.keys((await created.json()) as object)[0]!;
  await waitForState(url, ws, ['ACTIVE']);
  const res = await fetch(`${url}/peas?workspace_id=${ws}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'emitter', uses: 'Emitter', py_modules: ['emitter.ts'] }) });
  return { ws, id: (await res.json()) as string };
}
