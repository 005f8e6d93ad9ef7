/**
 * What authentication costs: GET /workspaces/{id} with a bearer token against the same request
 * to a daemon with authentication off, both started as `npm start` starts the daemon (fake
 * backend: the route reads the store, not the engine), same load, same run, interleaved rounds.
 *
 * Two ratios. Requests per second, as the target is stated; on this 2-core machine the load
 * generator shares the CPU with the daemon, so it swings ±10 % between identical daemons
 * (BENCH_CONTROL=1 runs two daemons without authentication to show it). And the daemon's own
 * CPU time per request (utime + stime from /proc), which that noise does not reach: the
 * throughput one core gives. Target: ≥ 0.95.
 *   node --import tsx bench/auth.ts [seconds] [connections] [rounds]
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { filesForm, waitForState } from '../test/helpers.ts';
import { type BenchDaemon, benchDaemon, median, table } from './lib.ts';

const SECONDS = Number(process.argv[2] ?? 5);
const CONNECTIONS = Number(process.argv[3] ?? 50);
const ROUNDS = Number(process.argv[4] ?? 7);

/** CPU seconds a process has used (user + system). */
const cpuSeconds = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
};

/** A workspace in the daemon; the URL of its item. */
async function target(d: BenchDaemon): Promise<string> {
  const headers = d.token ? { authorization: `Bearer ${d.token}` } : undefined;
  const res = await fetch(`${d.url}/workspaces`, { method: 'POST', headers, body: filesForm({ 'flow.yml': 'jtype: Flow\n' }) });
  const id = Object.keys((await res.json()) as object)[0]!;
  await waitForState(d.url, id, ['ACTIVE'], 60_000, d.token);
  return `${d.url}/workspaces/${id}`;
}

async function load(d: BenchDaemon, url: string) {
  const cpu0 = cpuSeconds(d.pid);
  const r = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, headers: d.token ? { authorization: `Bearer ${d.token}` } : {} });
  if (r.non2xx || r.errors) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return { rps: r.requests.average, p99: r.latency.p99, cpuUsPerReq: ((cpuSeconds(d.pid) - cpu0) * 1e6) / r.requests.total };
}

const control = Boolean(process.env.BENCH_CONTROL);
const withAuth = await benchDaemon({ JINAD_BACKEND: 'fake', JINAD_AUTH: control ? 'off' : 'on' });
const without = await benchDaemon({ JINAD_BACKEND: 'fake' });
// The load generator on one core, the daemon under load on the other: neither takes the
// other's core, which is most of the noise between rounds on a 2-core machine.
const pin = (cpu: number, pid: number) => {
  try {
    execFileSync('taskset', ['-a', '-pc', String(cpu), String(pid)], { stdio: 'ignore' });
  } catch {
    // no taskset, or one core: unpinned
  }
};
pin(0, process.pid);
pin(1, withAuth.pid);
pin(1, without.pid);
try {
  const a = await target(withAuth);
  const b = await target(without);
  await load(withAuth, a); // warm both
  await load(without, b);
  const rows: (string | number)[][] = [['round', 'token req/s', 'µs CPU/req', 'no auth req/s', 'µs CPU/req', 'req/s ratio', 'CPU ratio']];
  const rps: number[] = [];
  const cpu: number[] = [];
  for (let i = 1; i <= ROUNDS; i++) {
    // Alternate which goes first, so neither always gets the cooler machine.
    let x;
    let y;
    if (i % 2) {
      x = await load(withAuth, a);
      y = await load(without, b);
    } else {
      y = await load(without, b);
      x = await load(withAuth, a);
    }
    rps.push(x.rps / y.rps);
    cpu.push(y.cpuUsPerReq / x.cpuUsPerReq);
    rows.push([i, x.rps.toFixed(0), x.cpuUsPerReq.toFixed(1), y.rps.toFixed(0), y.cpuUsPerReq.toFixed(1), rps.at(-1)!.toFixed(3), cpu.at(-1)!.toFixed(3)]);
  }
  console.log(`GET /workspaces/{id}: ${control ? 'CONTROL, both without authentication' : 'with a bearer token (authentication on) vs authentication off'}`);
  console.log(`autocannon -c ${CONNECTIONS} -d ${SECONDS}, ${ROUNDS} interleaved rounds, same run\n`);
  console.log(table(rows));
  console.log(`\nmedian req/s ratio token / no auth: ${median(rps).toFixed(3)}; median CPU-per-request ratio (no auth / token): ${median(cpu).toFixed(3)} (target ≥ 0.95)`);
} finally {
  await withAuth.close();
  await without.close();
}
