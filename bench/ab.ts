/**
 * An A/B of GET /workspaces/{id} between two daemons started as `npm start` starts one (fake
 * backend: the route reads the store, not the engine), same load, same run, interleaved rounds,
 * the load generator and the daemons pinned to separate cores.
 *
 * Two ratios per round. Requests per second, as targets are stated; on a 2-core machine the load
 * generator shares the CPU with the daemon, so it swings ±10 % between identical daemons. And the
 * daemon's own CPU time per request (utime + stime from /proc), which that noise does not reach.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { filesForm, waitForState } from '../test/helpers.ts';
import { type BenchDaemon, median, table } from './lib.ts';

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

const pin = (cpu: number, pid: number) => {
  try {
    execFileSync('taskset', ['-a', '-pc', String(cpu), String(pid)], { stdio: 'ignore' });
  } catch {
    // no taskset, or one core: unpinned
  }
};

/** Run the A/B; prints a table per round and the median ratios (A relative to B). */
export async function abGet(a: BenchDaemon, b: BenchDaemon, opts: { seconds: number; connections: number; rounds: number; names: [string, string] }): Promise<{ rps: number; cpu: number; together: { rps: number; cpu: number } }> {
  const load = async (d: BenchDaemon, url: string) => {
    const cpu0 = cpuSeconds(d.pid);
    const r = await autocannon({ url, connections: opts.connections, duration: opts.seconds, headers: d.token ? { authorization: `Bearer ${d.token}` } : {} });
    if (r.non2xx || r.errors) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors`);
    return { rps: r.requests.average, cpuUsPerReq: ((cpuSeconds(d.pid) - cpu0) * 1e6) / r.requests.total };
  };
  // The load generator on one core, the daemons under load on the other.
  pin(0, process.pid);
  pin(1, a.pid);
  pin(1, b.pid);
  const ua = await target(a);
  const ub = await target(b);
  await load(a, ua); // warm both
  await load(b, ub);
  const [na, nb] = opts.names;
  const rows: (string | number)[][] = [['round', `${na} req/s`, 'µs CPU/req', `${nb} req/s`, 'µs CPU/req', 'req/s ratio', 'CPU ratio']];
  const rps: number[] = [];
  const cpu: number[] = [];
  for (let i = 1; i <= opts.rounds; i++) {
    // Alternate which goes first, so neither always gets the cooler machine.
    let x: Awaited<ReturnType<typeof load>>;
    let y: Awaited<ReturnType<typeof load>>;
    if (i % 2) {
      x = await load(a, ua);
      y = await load(b, ub);
    } else {
      y = await load(b, ub);
      x = await load(a, ua);
    }
    rps.push(x.rps / y.rps);
    cpu.push(y.cpuUsPerReq / x.cpuUsPerReq);
    rows.push([i, x.rps.toFixed(0), x.cpuUsPerReq.toFixed(1), y.rps.toFixed(0), y.cpuUsPerReq.toFixed(1), rps.at(-1)!.toFixed(3), cpu.at(-1)!.toFixed(3)]);
  }
  console.log(`autocannon -c ${opts.connections} -d ${opts.seconds}, ${opts.rounds} interleaved rounds, same run\n`);
  console.log(table(rows));
  // The same, both daemons under load at once, sharing their core: whatever slows the machine
  // during a round (this VM's neighbours) slows both alike, so the ratio keeps only their own cost.
  const together: (string | number)[][] = [['round', `${na} req/s`, 'µs CPU/req', `${nb} req/s`, 'µs CPU/req', 'req/s ratio', 'CPU ratio']];
  const rpsT: number[] = [];
  const cpuT: number[] = [];
  for (let i = 1; i <= opts.rounds; i++) {
    const [x, y] = await Promise.all([load(a, ua), load(b, ub)]);
    rpsT.push(x.rps / y.rps);
    cpuT.push(y.cpuUsPerReq / x.cpuUsPerReq);
    together.push([i, x.rps.toFixed(0), x.cpuUsPerReq.toFixed(1), y.rps.toFixed(0), y.cpuUsPerReq.toFixed(1), rpsT.at(-1)!.toFixed(3), cpuT.at(-1)!.toFixed(3)]);
  }
  console.log(`\nthe same, both under load at once (each autocannon -c ${opts.connections}), ${opts.rounds} rounds\n`);
  console.log(table(together));
  return { rps: median(rps), cpu: median(cpu), together: { rps: median(rpsT), cpu: median(cpuT) } };
}

type Ratios = Awaited<ReturnType<typeof abGet>>;

/**
 * The A/B twice, the daemons swapped: A started first and loaded as `a`, then another pair with B
 * in those places. A/A runs of identical daemons through abGet gave 0.88–1.06 (median ~0.95): a
 * bias of the places themselves (start order, which load goes first). The geometric mean of
 * A/B and 1 / (B/A) cancels it, leaving what tells A and B apart.
 */
export async function abGetBothWays(start: { a: () => Promise<BenchDaemon>; b: () => Promise<BenchDaemon> }, opts: Parameters<typeof abGet>[2]): Promise<Ratios & { first: Ratios; swapped: Ratios }> {
  const a1 = await start.a();
  const b1 = await start.b();
  const b2 = await start.b();
  const a2 = await start.a();
  try {
    const first = await abGet(a1, b1, opts);
    console.log('\nswapped: the same with B started first and loaded in the first place\n');
    const swapped = await abGet(b2, a2, { ...opts, names: [opts.names[1], opts.names[0]] });
    const mean = (x: number, y: number) => Math.sqrt(x / y);
    return {
      first,
      swapped,
      rps: mean(first.rps, swapped.rps),
      cpu: mean(first.cpu, swapped.cpu),
      together: { rps: mean(first.together.rps, swapped.together.rps), cpu: mean(first.together.cpu, swapped.together.cpu) },
    };
  } finally {
    for (const d of [a1, b1, b2, a2]) await d.close();
  }
}

/** Print a both-ways result as `label` (A / B): each way's medians, then the places cancelled. */
export function reportBothWays(r: Awaited<ReturnType<typeof abGetBothWays>>, label: string): void {
  const line = (x: { rps: number; cpu: number }) => `req/s ${x.rps.toFixed(3)}, CPU ${x.cpu.toFixed(3)}`;
  const inverse = (x: { rps: number; cpu: number }) => ({ rps: 1 / x.rps, cpu: 1 / x.cpu });
  console.log(`\n${label}, medians: rounds in turn ${line(r.first)} and swapped ${line(inverse(r.swapped))}; both under load at once ${line(r.first.together)} and swapped ${line(inverse(r.swapped.together))}`);
  console.log(`places cancelled (geometric means): rounds in turn ${line(r)}; at once ${line(r.together)} (target ≥ 0.95)\n`);
}
