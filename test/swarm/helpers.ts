/**
 * What the Swarm tests stand on: a Swarm on the test engine (made when there is none, and left
 * only if made here) and a registry (Debian's docker-registry, on loopback, storage in a temp
 * folder, ended by its pid).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { docker } from '../docker.ts';
import { freePort, retryFetch } from '../helpers.ts';

/** The test engine as a single-node Swarm manager; `leave()` undoes only what this made. */
export async function ensureSwarm(): Promise<{ made: boolean; leave(): Promise<void> }> {
  const info = (await docker.engine.info()) as { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } };
  if (info.Swarm?.LocalNodeState === 'active') {
    if (!info.Swarm.ControlAvailable) throw new Error('the test engine is a Swarm worker: the Swarm tests need a manager');
    return { made: false, leave: async () => {} };
  }
  await docker.engine.swarmInit({ ListenAddr: '127.0.0.1:2377', AdvertiseAddr: '127.0.0.1' });
  return {
    made: true,
    leave: async () => {
      await docker.engine.swarmLeave({ force: true });
    },
  };
}

export interface TestRegistry {
  /** host:port */
  address: string;
  /** The tags of a repository (empty when it has none, or is unknown). */
  tags(repo: string): Promise<string[]>;
  stop(): Promise<void>;
}

/** A registry on `host` (loopback by default) with deletes enabled; storage in a temp folder removed by stop(). */
export async function startRegistry(host = '127.0.0.1', port?: number, spawnIn: string[] = []): Promise<TestRegistry> {
  const dir = mkdtempSync(path.join(tmpdir(), 'jinad-registry-'));
  const listen = `${host}:${port ?? (await freePort())}`;
  writeFileSync(
    path.join(dir, 'config.yml'),
    `version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\n  delete:\n    enabled: true\nhttp:\n  addr: ${listen}\n`,
  );
  const bin = execFileSync('sh', ['-c', 'command -v docker-registry || true']).toString().trim();
  if (!bin) throw new Error('docker-registry is not installed (Debian: apt-get install docker-registry)');
  const child: ChildProcess = spawn(spawnIn[0] ?? bin, [...spawnIn.slice(1), ...(spawnIn.length ? [bin] : []), 'serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c) => (stderr += c));
  try {
    await retryFetch(`http://${listen}/v2/`, 15_000);
  } catch (err) {
    child.kill();
    throw new Error(`the registry did not start: ${stderr || (err as Error).message}`);
  }
  return {
    address: listen,
    async tags(repo) {
      const res = await fetch(`http://${listen}/v2/${repo}/tags/list`);
      if (!res.ok) return [];
      return ((await res.json()) as { tags?: string[] | null }).tags ?? [];
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
