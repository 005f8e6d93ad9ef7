/**
 * Tensors through a Flow's inner hops (gateway → Peas → gateway), this tree against other
 * checkouts of the runtime given as arguments (e.g. a `git worktree` of an earlier commit, its
 * node_modules linked), in one run, interleaved: docs/s and p50 of a JSON client posting 100
 * documents with 768-dim float32 embeddings (base64, as Jina's JSON carries them), 4 in flight,
 * through
 *   ts: three TypeScript no-op Executors in a row;
 *   py: Python no-op → TypeScript no-op → Python no-op.
 *   node --import ./src/runtime/bootstrap.mjs bench/tensor-hops.ts [rounds=300] [checkout ...]
 */
import http from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, postJson as postJsonWith, table } from './lib.ts';

process.env.JINAD_PYTHON ??= '/usr/bin/python3';
const ROUNDS = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 300);
const TREES = [fileURLToPath(new URL('..', import.meta.url)), ...process.argv.slice(2).filter((a) => !/^\d+$/.test(a)).map((p) => path.resolve(p))];
const IN_FLIGHT = 4;
const DIM = 768;
const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });

const vec = Buffer.alloc(DIM * 4);
for (let i = 0; i < DIM; i++) vec.writeFloatLE(Math.cos(i), i * 4);
const body = { data: Array.from({ length: 100 }, (_, i) => ({ id: `d${i}`, embedding: { dense: { buffer: vec.toString('base64'), shape: [DIM], dtype: '<f4' } } })) };

/** The two Flows, written for a tree (its own fixtures). */
function flowFiles(tree: string, dir: string) {
  const ts = path.join(tree, 'test/fixtures/runtime/executors.ts');
  const py = path.join(tree, 'test/fixtures/python/executors.py');
  const step = (name: string, file: string) => `  - name: ${name}\n    uses: Noop\n    py_modules: [${file}]\n`;
  writeFileSync(path.join(dir, 'ts.yml'), `jtype: Flow\nexecutors:\n${step('a', ts)}${step('b', ts)}${step('c', ts)}`);
  writeFileSync(path.join(dir, 'py.yml'), `jtype: Flow\nexecutors:\n${step('a', py)}${step('b', ts)}${step('c', py)}`);
  return { ts: path.join(dir, 'ts.yml'), py: path.join(dir, 'py.yml') };
}

interface Running { tree: string; shape: 'ts' | 'py'; port: number; close: () => Promise<void>; lat: number[]; docsPerSec: number[] }

const dir = mkdtempSync(path.join(tmpdir(), 'jinad-hops-'));
const running: Running[] = [];
try {
  for (const [i, tree] of TREES.entries()) {
    const { Flow, loadFlow } = (await import(path.join(tree, 'src/runtime/index.ts'))) as typeof import('../src/runtime/index.ts');
    const sub = path.join(dir, String(i));
    mkdirSync(sub);
    const files = flowFiles(tree, sub);
    for (const shape of ['ts', 'py'] as const) {
      const flow = await new Flow(loadFlow(files[shape]), { host: '127.0.0.1' }).start();
      running.push({ tree, shape, port: flow.port!, close: () => flow.close(), lat: [], docsPerSec: [] });
    }
  }
  const post = (port: number) => postJsonWith(agent, port, '/index', body);
  for (const r of running) for (let i = 0; i < 30; i++) await post(r.port); // warm-up
  // Rounds interleaved: each round, every Flow gets a burst of 4 × 5 requests in flight.
  for (let round = 0; round < ROUNDS / 20; round++) {
    for (const r of running) {
      const t0 = performance.now();
      await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
        for (let k = 0; k < 5; k++) {
          const s = performance.now();
          const out = await post(r.port);
          if (out.data?.docs?.length !== 100) throw new Error(`${r.tree} ${r.shape}: ${JSON.stringify(out).slice(0, 300)}`);
          r.lat.push(performance.now() - s);
        }
      }));
      r.docsPerSec.push((IN_FLIGHT * 5 * 100) / ((performance.now() - t0) / 1000));
    }
  }
  const here = (shape: string) => running.find((r) => r.tree === TREES[0] && r.shape === shape)!;
  console.log(`${ROUNDS} requests per Flow of 100 docs × ${DIM}-dim float32, ${IN_FLIGHT} in flight\n`);
  console.log(table([
    ['tree', 'Flow', 'docs/s (median burst)', 'p50 ms', 'docs/s ÷ this tree'],
    ...running.map((r) => [r.tree === TREES[0] ? 'this tree' : r.tree, r.shape, median(r.docsPerSec).toFixed(0), median(r.lat).toFixed(1), (median(r.docsPerSec) / median(here(r.shape).docsPerSec)).toFixed(2)]),
  ]));
} finally {
  for (const r of running) await r.close();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
