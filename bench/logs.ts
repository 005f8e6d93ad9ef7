/**
 * Log lines from a container's stdout to a WebSocket follower, against `docker logs -f` on the
 * same container in the same run: latency (p50/p99) at a steady rate, and how many lines per
 * second one object can log before the file (and the followers) fall behind.
 *   node --import tsx bench/logs.ts [burst lines]
 * (BENCH_DAEMON=bench/profile-daemon.mjs PROF_SIGNAL=1: a CPU profile of the daemon during the burst.)
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { docker } from '../test/docker.ts';
import { retryFetch } from '../test/helpers.ts';
import { benchDaemon, cpuSeconds, emitterPea, fileTail, median, percentile, table } from './lib.ts';

const BURST = Number(process.argv[2] ?? 20_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const EMIT = /emit (\d+) (\d+)/;

const daemon = await benchDaemon();
try {
  const { ws, id } = await emitterPea(daemon.url);
  const item = (await (await fetch(`${daemon.url}/peas/${id}`)).json()) as { metadata: { ports: Record<string, number> } };
  const peaPort = item.metadata.ports['8081/tcp']!;
  const trigger = (parameters: Record<string, number>) =>
    retryFetch(`http://127.0.0.1:${peaPort}/`).then(() =>
      fetch(`http://127.0.0.1:${peaPort}/`, { method: 'POST', body: JSON.stringify({ requestId: 'b', header: { execEndpoint: '/emit' }, parameters, routes: [], status: { code: 0, description: '' }, data: { docs: [] } }) }),
    );

  /**
   * Per consumer: in the steady phase each line's latency; in the burst, how many lines came and
   * when the last one did. Both consumers' lines get the same light handling (a regex on the
   * text as it came, no JSON parse, no map of every line): the bench's own CPU competes with the
   * daemon and the engine on two cores.
   */
  let phase = 0;
  const counts = { ws: 0, docker: 0 };
  const lastAt: { ws?: number; docker?: number } = {};
  const latency = { ws: [] as number[], docker: [] as number[] };
  const onLine = (who: 'ws' | 'docker', text: string) => {
    const m = EMIT.exec(text);
    if (!m) return;
    const now = Date.now();
    if (phase === 1) latency[who].push(now - Number(m[1]));
    if (phase !== 2) return;
    counts[who]++;
    if (Number(m[2]) === BURST - 1) lastAt[who] = now;
  };
  const socket = new WebSocket(`${daemon.url.replace('http', 'ws')}/logstream/${id}?tail=0`);
  socket.on('message', (m) => onLine('ws', String(m))); // the message's JSON has `emit <ms> <seq>` as printed
  await new Promise((r) => socket.once('open', r));
  const dockerLogs = spawn('docker', ['logs', '-f', '--since', '0s', id]);
  let rest = '';
  dockerLogs.stdout.on('data', (c: Buffer) => {
    rest += c.toString();
    const lines = rest.split('\n');
    rest = lines.pop()!;
    for (const l of lines) onLine('docker', l);
  });
  await sleep(500);

  // Phase 1: a steady 100 lines/s for 3 s.
  phase = 1;
  await trigger({ n: 300, every_ms: 10 });
  await sleep(3500);

  // Phase 2: a burst, as fast as the executor prints.
  phase = 2;
  const engine = Number(readFileSync('/var/run/docker.pid', 'utf8'));
  const container = ((await (await fetch(`${daemon.url}/peas/${id}`)).json()) as { metadata?: { container_id?: string } }).metadata?.container_id;
  /** The object's container, all its processes (the engine's cgroup count, nanoseconds). */
  const containerCpu = async () => (container ? ((await docker.engine.getContainer(container).stats({ stream: false })) as { cpu_stats: { cpu_usage: { total_usage: number } } }).cpu_stats.cpu_usage.total_usage / 1e9 : 0);
  const who = { 'the daemon': daemon.pid, dockerd: engine, 'docker logs -f (CLI)': dockerLogs.pid, 'this bench (both clients)': process.pid };
  const cpu0 = Object.fromEntries(Object.entries(who).map(([k, pid]) => [k, cpuSeconds(pid)]));
  const object0 = await containerCpu();
  const t0 = Date.now();
  if (process.env.PROF_SIGNAL) process.kill(daemon.pid, 'SIGUSR2'); // bench/profile-daemon.mjs: the burst's profile
  await trigger({ n: BURST, every_ms: 0 });
  const file = path.join(daemon.root, '.daemon', ws, 'logs', id, 'logging.log');
  let fileDone: number | undefined;
  for (let i = 0; i < 600 && !(fileDone && lastAt.ws && lastAt.docker); i++) {
    if (!fileDone && new RegExp(`emit \\d+ ${BURST - 1}"`).test(fileTail(file))) fileDone = Date.now();
    await sleep(50);
  }
  if (process.env.PROF_SIGNAL) process.kill(daemon.pid, 'SIGUSR2');
  const cpu = Object.entries(who).map(([k, pid]) => [k, ((cpuSeconds(pid) - cpu0[k]!) * 1e6 / BURST).toFixed(1)]);
  cpu.push(["the object's container (printing)", (((await containerCpu()) - object0) * 1e6 / BURST).toFixed(1)]);
  socket.close();
  dockerLogs.kill();
  const rate = (end?: number) => (end ? (BURST / ((end - t0) / 1000)).toFixed(0) : 'did not finish');
  console.log('1. latency from stdout, 300 lines at 100 lines/s\n');
  console.log(table([
    ['', 'lines', 'p50 ms', 'p99 ms'],
    ['jinad WebSocket follower', latency.ws.length, median(latency.ws).toFixed(1), percentile(latency.ws, 99).toFixed(1)],
    ['docker logs -f', latency.docker.length, median(latency.docker).toFixed(1), percentile(latency.docker, 99).toFixed(1)],
  ]));
  console.log(`\n2. a burst of ${BURST} lines: lines per second until the last one arrived\n`);
  console.log(table([
    ['', 'lines received', 'lines/s'],
    ['jinad log file', BURST, rate(fileDone)],
    ['jinad WebSocket follower', counts.ws, rate(lastAt.ws)],
    ['docker logs -f', counts.docker, rate(lastAt.docker)],
  ]));
  console.log(`\n3. CPU during the burst, µs per line (from /proc, 10 ms ticks)\n`);
  console.log(table([['', 'µs/line'], ...cpu]));
} finally {
  await fetch(`${daemon.url}/workspaces`, { method: 'DELETE' });
  await daemon.close();
}
