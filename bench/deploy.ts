/**
 * Deployments, measured in one run against a daemon on the real engine:
 *  1. `jinad apply` of an unchanged deployments file of 10 workspaces × 2 Flows (read the file,
 *     hash every folder, plan each deployment: "no changes"), against the bare reference: a GET
 *     of each workspace and Flow item done by hand (30 GETs). Target: ≤ 1 s.
 *  2. A member's container killed (`docker kill`) until its gateway answers again, against the
 *     same Flow's own cold start (POST /flows until its gateway answers). Target: ≤ cold start + 2 s.
 *   node --import ./src/runtime/bootstrap.mjs bench/deploy.ts [rounds]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { JinaDClient } from '../src/client/index.ts';
import { loadDeploymentsFile, resolveDeployment } from '../src/deploy/source.ts';
import { freePort } from '../test/helpers.ts';
import { benchDaemon, median, table } from './lib.ts';

const ROUNDS = Number(process.argv[2] ?? 5);
const WORKSPACES = 10;
const fixtures = fileURLToPath(new URL('../test/fixtures/runtime/', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'jinad-bench-deploy-'));
const FLOW = 'jtype: Flow\nwith:\n  port_expose: ${{ ENV.PORT }}\nexecutors:\n  - name: tag\n    uses: Tagger\n    py_modules: [executors.ts]\n';

async function answers(port: number, since: number): Promise<number> {
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
    if (ok) return performance.now() - since;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const d = await benchDaemon();
try {
  const client = new JinaDClient(d.url, { timeoutMs: 600_000 });
  const deployments: Record<string, unknown> = {};
  const ports: number[] = [];
  for (let i = 0; i < WORKSPACES; i++) {
    const app = path.join(dir, `app${i}`);
    mkdirSync(app);
    writeFileSync(path.join(app, 'executors.ts'), readFileSync(path.join(fixtures, 'executors.ts')));
    writeFileSync(path.join(app, 'flow.yml'), FLOW);
    const [a, b] = [await freePort(), await freePort()];
    ports.push(a, b);
    deployments[`app${i}`] = { workspace: `./app${i}`, flows: { a: { file: 'flow.yml', envs: { PORT: String(a) } }, b: { file: 'flow.yml', envs: { PORT: String(b) } } } };
  }
  const file = path.join(dir, 'jinad.deploy.yml');
  writeFileSync(file, YAML.stringify({ deployments }));
  const t0 = performance.now();
  const declared = await loadDeploymentsFile(file);
  for (const [name, dep] of Object.entries(declared)) await client.deployments.apply(name, resolveDeployment(name, dep, dir, process.env, file));
  console.log(`first apply of ${WORKSPACES} workspaces × 2 Flows: ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  /** What `jinad apply` does when nothing changed: read, hash, plan each; nothing pending, nothing applied. */
  const applyUnchanged = async () => {
    const t = performance.now();
    const all = await loadDeploymentsFile(file);
    for (const [name, dep] of Object.entries(all)) {
      const plan = await client.deployments.plan(name, resolveDeployment(name, dep, dir, process.env, file).desired);
      if (plan.pending) throw new Error(`${name}: changes pending on an unchanged file`);
    }
    return performance.now() - t;
  };
  const details = await client.deployments.list();
  const byHand = async () => {
    const t = performance.now();
    for (const dep of Object.values(details)) {
      await client.workspaces.get(dep.workspace_id);
      for (const m of Object.values(dep.members)) await client.flows.get(m.id);
    }
    return performance.now() - t;
  };
  const unchanged: number[] = [];
  const hand: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    unchanged.push(await applyUnchanged());
    hand.push(await byHand());
  }

  // 2. kill → answering again, against a cold start of the same Flow.
  const member = details.app0!.members['flows.a']!;
  const port = ports[0]!;
  const kills: number[] = [];
  const colds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now();
    execFileSync('docker', ['kill', member.id], { stdio: 'ignore' });
    kills.push(await answers(port, t));
    const coldPort = await freePort();
    const c = performance.now();
    const id = await client.flows.create(details.app0!.workspace_id, 'flow.yml', { PORT: String(coldPort) });
    colds.push(await answers(coldPort, c));
    await client.flows.delete(id);
  }
  const ms = (x: number) => `${x.toFixed(0)} ms`;
  console.log(
    table([
      ['measure', 'median', 'reference', 'reference median', 'ratio / difference'],
      [`apply, unchanged (${WORKSPACES} ws × 2 Flows)`, ms(median(unchanged)), `GET of each item by hand (${WORKSPACES * 3})`, ms(median(hand)), `${(median(unchanged) / median(hand)).toFixed(2)}×`],
      ['docker kill → answering again', ms(median(kills)), 'cold start (POST /flows → answering)', ms(median(colds)), `${median(kills) - median(colds) >= 0 ? '+' : ''}${ms(median(kills) - median(colds))}`],
    ]),
  );
  console.log(`rounds: ${ROUNDS}; unchanged: ${unchanged.map(ms).join(', ')}; kills: ${kills.map(ms).join(', ')}; colds: ${colds.map(ms).join(', ')}`);
} finally {
  await d.close();
  rmSync(dir, { recursive: true, force: true });
}
