/**
 * Workspace POST → ACTIVE (warm cache) against `docker build` of the same context with the
 * Docker CLI, in the same run (the target: ratio ≤ 1.3), and against the raw Docker
 * operations a new workspace needs: that build plus `docker network create`.
 *   node --import tsx bench/workspace-build.ts [iterations]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateDockerfile } from '../plugins/workspace/dockerfile.ts';
import { filesForm } from '../test/helpers.ts';
import { benchDaemon, median, table } from './lib.ts';

const N = Number(process.argv[2] ?? 10);
const files = {
  'package.json': JSON.stringify({ name: 'bench', version: '1.0.0', dependencies: { 'is-number': '7.0.0' } }),
  'executor.js': 'export class Hello { run(docs) { return docs; } }\n',
  'flow.yml': 'jtype: Flow\nexecutors:\n  - name: hello\n',
};

const daemon = await benchDaemon();
const cliDir = mkdtempSync(path.join(tmpdir(), 'jinad-bench-cli-'));
const cliTag = `jinad-bench-cli:${process.pid}`;
try {
  async function viaDaemon(): Promise<number> {
    const t0 = performance.now();
    const res = await fetch(`${daemon.url}/workspaces`, { method: 'POST', body: filesForm(files) });
    const id = Object.keys((await res.json()) as object)[0]!;
    for (;;) {
      const item = (await (await fetch(`${daemon.url}/workspaces/${id}`)).json()) as { state: string; reason: string };
      if (item.state === 'FAILED') throw new Error(item.reason);
      if (item.state === 'ACTIVE') break;
      await new Promise((r) => setTimeout(r, 5));
    }
    // Workspaces stay until the end: deleting the last user of an image lets Docker prune its
    // layers, and the next build would not be warm.
    return performance.now() - t0;
  }

  // The CLI builds the very context the daemon builds: the same files and generated Dockerfile.
  const status = (await (await fetch(`${daemon.url}/status`)).json()) as { jinad: { version: string } };
  await viaDaemon(); // builds the base image and warms the cache for both
  const base = execFileSync('docker', ['images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', 'label=io.jinad.kind=base-image', '--filter', 'dangling=false'])
    .toString()
    .split('\n')
    .find((t) => t.startsWith(`jinad-runtime:${status.jinad.version}-`))!;
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(cliDir, name), content);
  mkdirSync(path.join(cliDir, '.jinad.build'));
  writeFileSync(path.join(cliDir, '.jinad.build/Dockerfile'), generateDockerfile(cliDir, base));
  writeFileSync(path.join(cliDir, '.dockerignore'), '.jinad.build\n.dockerignore\n');
  const viaCli = () => {
    const t0 = performance.now();
    execFileSync('docker', ['build', '-q', '-f', '.jinad.build/Dockerfile', '-t', cliTag, '.'], { cwd: cliDir, env: { ...process.env, DOCKER_BUILDKIT: '0' }, stdio: 'pipe' });
    return performance.now() - t0;
  };
  viaCli();
  const network = `jinad-bench-net-${process.pid}`;
  const viaCliWithNetwork = () => {
    const t0 = performance.now();
    execFileSync('docker', ['build', '-q', '-f', '.jinad.build/Dockerfile', '-t', cliTag, '.'], { cwd: cliDir, env: { ...process.env, DOCKER_BUILDKIT: '0' }, stdio: 'pipe' });
    execFileSync('docker', ['network', 'create', network], { stdio: 'pipe' });
    const ms = performance.now() - t0;
    execFileSync('docker', ['network', 'rm', network], { stdio: 'pipe' });
    return ms;
  };

  const d: number[] = [];
  const c: number[] = [];
  const cn: number[] = [];
  for (let i = 0; i < N; i++) {
    d.push(await viaDaemon());
    c.push(viaCli());
    cn.push(viaCliWithNetwork());
  }
  const row = (name: string, xs: number[]) => [name, median(xs).toFixed(0), Math.min(...xs).toFixed(0), Math.max(...xs).toFixed(0)];
  console.log(`workspace POST → ACTIVE vs the Docker CLI, warm cache, ${N} iterations each (interleaved)\n`);
  console.log(
    table([
      ['', 'median ms', 'min ms', 'max ms'],
      row('jinad POST → ACTIVE', d),
      row('docker build', c),
      row('docker build + network create', cn),
    ]),
  );
  console.log(`\nratio jinad / docker build:                  ${(median(d) / median(c)).toFixed(2)} (target ≤ 1.3)`);
  console.log(`ratio jinad / docker build + network create: ${(median(d) / median(cn)).toFixed(2)}`);
} finally {
  await fetch(`${daemon.url}/workspaces`, { method: 'DELETE' });
  await daemon.close();
  execFileSync('docker', ['rmi', '-f', cliTag], { stdio: 'ignore' });
  rmSync(cliDir, { recursive: true, force: true });
}
