/**
 * What metrics cost, in one run:
 *  1. GET /workspaces/{id} with metrics on against the same daemon with metrics off
 *     (JINAD_METRICS=off), bench/ab.ts both ways: req/s and CPU per request. Target: ≥ 0.95.
 *  2. A scrape of /metrics with 100 workspaces and 200 objects (fake backend: the scrape reads
 *     the daemon's memory, not the engine), against GET /status of the same daemon. Target: ≤ 50 ms.
 *   node --import tsx bench/metrics.ts [seconds] [connections] [rounds]
 */
import { filesForm, waitForState } from '../test/helpers.ts';
import { abGetBothWays, reportBothWays } from './ab.ts';
import { benchDaemon, median, percentile, table } from './lib.ts';

// BENCH_CONTROL=1: the daemon with metrics has them off too (an A/A run of the harness).
const control = Boolean(process.env.BENCH_CONTROL);
const opts = { seconds: Number(process.argv[2] ?? 5), connections: Number(process.argv[3] ?? 50), rounds: Number(process.argv[4] ?? 7), names: ['metrics', 'no metrics'] as [string, string] };
console.log(`GET /workspaces/{id}: ${control ? 'CONTROL, both without metrics' : 'metrics on vs metrics off'}`);
const r = await abGetBothWays({ a: () => benchDaemon({ JINAD_BACKEND: 'fake', ...(control ? { JINAD_METRICS: 'off' } : {}) }), b: () => benchDaemon({ JINAD_BACKEND: 'fake', JINAD_METRICS: 'off' }) }, opts);
reportBothWays(r, 'metrics / none');

// The scrape, on a daemon with metrics.
const on = await benchDaemon({ JINAD_BACKEND: 'fake' });
try {
  // 100 workspaces, 2 Flows in each: 200 objects.
  const flow = 'executors:\n  - name: a\n    uses: A\n    py_modules: [a.ts]\n';
  const ids: string[] = [];
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${on.url}/workspaces`, { method: 'POST', body: filesForm({ 'flow.yml': flow, 'a.ts': `export class A {} // ${i}\n` }) });
    ids.push(Object.keys((await res.json()) as object)[0]!);
  }
  for (const id of ids) await waitForState(on.url, id, ['ACTIVE'], 60_000);
  await Promise.all(ids.flatMap((id) => [0, 1].map(() => fetch(`${on.url}/flows?workspace_id=${id}&filename=flow.yml`, { method: 'POST' }).then((x) => x.text()))));
  const time = async (path: string) => {
    const t0 = performance.now();
    await (await fetch(`${on.url}${path}`)).text();
    return performance.now() - t0;
  };
  const scrape: number[] = [];
  const status: number[] = [];
  for (let i = 0; i < 30; i++) {
    scrape.push(await time('/metrics'));
    status.push(await time('/status'));
  }
  const text = await (await fetch(`${on.url}/metrics`)).text();
  const objects = /jinad_objects\{kind="flow",state="running"\} (\d+)/.exec(text)?.[1];
  console.log(`/metrics with 100 workspaces and ${objects} running Flows (${text.length} bytes, ${text.split('\n').filter((l) => l && !l.startsWith('#')).length} series), 30 scrapes:`);
  console.log(
    table([
      ['route', 'median', 'p99'],
      ['GET /metrics', `${median(scrape).toFixed(1)} ms`, `${percentile(scrape, 99).toFixed(1)} ms`],
      ['GET /status (reference)', `${median(status).toFixed(1)} ms`, `${percentile(status, 99).toFixed(1)} ms`],
    ]),
  );
  console.log('(target: a scrape ≤ 50 ms)');
} finally {
  await on.close();
}
