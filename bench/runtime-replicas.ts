/**
 * A CPU-bound executor with replicas 1, 2 and 4: documents per second through the gateway.
 * Throughput should grow with replicas up to the cores available.
 *   node --import ./src/runtime/bootstrap.mjs bench/runtime-replicas.ts [requests] [work]
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseFlow } from '../src/runtime/config.ts';
import { Flow } from '../src/runtime/flow.ts';
import { table } from './lib.ts';

const N = Number(process.argv[2] ?? 200);
const WORK = Number(process.argv[3] ?? 300_000);
const DOCS = 10;
const dir = fileURLToPath(new URL('../test/fixtures/runtime/', import.meta.url));

const rows: (string | number)[][] = [['replicas', 'docs/s', 'vs 1 replica']];
let base = 0;
for (const replicas of [1, 2, 4]) {
  const spec = parseFlow(`executors:\n  - name: burn\n    uses: Burner\n    py_modules: [executors.ts]\n    replicas: ${replicas}\n`, { where: 'bench.yml', dir });
  const flow = await new Flow(spec, { host: '127.0.0.1' }).start();
  try {
    const call = () =>
      fetch(`http://127.0.0.1:${flow.port}/index`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ data: Array.from({ length: DOCS }, (_, i) => `d${i}`), parameters: { work: WORK } }),
      }).then((r) => r.json());
    for (let i = 0; i < 2 * replicas; i++) await call();
    let left = N;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (left-- > 0) await call();
      }),
    );
    const rate = (N * DOCS) / ((performance.now() - t0) / 1000);
    base ||= rate;
    rows.push([replicas, rate.toFixed(0), `${(rate / base).toFixed(2)}×`]);
  } finally {
    await flow.close();
  }
}
console.log(`CPU-bound executor (${WORK} steps per doc), ${N} requests of ${DOCS} docs, 8 in flight, ${os.availableParallelism()} cores\n`);
console.log(table(rows));
