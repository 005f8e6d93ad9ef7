/**
 * GET /workspaces/{id} throughput of the daemon against a bare Hono route returning the same
 * JSON, both started as `npm start` starts the daemon (node --import tsx), same load, same run.
 * Target: ≥ 0.5 of the bare route.
 * Three interleaved rounds; the ratio reported is the median of the rounds' ratios.
 *   node --import tsx bench/get-throughput.ts [seconds] [connections] [rounds]
 */
import autocannon from 'autocannon';
import { filesForm, freePort, waitForState } from '../test/helpers.ts';
import { benchDaemon, median, startProcess, stopProcess, table } from './lib.ts';

const SECONDS = Number(process.argv[2] ?? 5);
const CONNECTIONS = Number(process.argv[3] ?? 50);
const ROUNDS = Number(process.argv[4] ?? 3);

async function load(url: string) {
  const r = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS });
  if (r.non2xx || r.errors) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return r;
}

const daemon = await benchDaemon();
try {
  const res = await fetch(`${daemon.url}/workspaces`, { method: 'POST', body: filesForm({ 'flow.yml': 'jtype: Flow\n' }) });
  const id = Object.keys((await res.json()) as object)[0]!;
  const item = await waitForState(daemon.url, id, ['ACTIVE']);
  const barePort = await freePort();
  const bare = await startProcess('bench/bare-hono.ts', { BARE_PORT: String(barePort), BARE_BODY: JSON.stringify(item) }, barePort);
  try {
    const targetDaemon = `${daemon.url}/workspaces/${id}`;
    const targetBare = `http://127.0.0.1:${barePort}/workspaces/${id}`;
    await load(targetDaemon); // warm both (JIT, connection pools)
    await load(targetBare);
    const rows: (string | number)[][] = [['round', 'jinad req/s', 'p50/p99 ms', 'bare req/s', 'p50/p99 ms', 'ratio']];
    const ratios: number[] = [];
    for (let i = 1; i <= ROUNDS; i++) {
      const d = await load(targetDaemon);
      const b = await load(targetBare);
      ratios.push(d.requests.average / b.requests.average);
      rows.push([i, d.requests.average.toFixed(0), `${d.latency.p50}/${d.latency.p99}`, b.requests.average.toFixed(0), `${b.latency.p50}/${b.latency.p99}`, ratios.at(-1)!.toFixed(2)]);
    }
    console.log(`GET /workspaces/{id} (jinad: in-memory row + item) vs a bare Hono route returning the same JSON`);
    console.log(`autocannon -c ${CONNECTIONS} -d ${SECONDS}, ${ROUNDS} interleaved rounds, same run\n`);
    console.log(table(rows));
    console.log(`\nmedian ratio jinad / bare: ${median(ratios).toFixed(2)} (target ≥ 0.5)`);
  } finally {
    await stopProcess(bare);
  }
} finally {
  await fetch(`${daemon.url}/workspaces`, { method: 'DELETE' });
  await daemon.close();
}
