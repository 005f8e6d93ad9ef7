/** Workspace networks from the subnet pool, on the real engine: past Docker's ~30 default networks, exhaustion said in words. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { createDockerBackend } from '../../src/backend/docker/index.ts';
import { createLogger } from '../../src/logger.ts';
import { docker, removeLabelled } from '../helpers.ts';

const instance = `test-nets-${randomUUID().slice(0, 8)}`;
after(() => removeLabelled(instance));

const subnetOf = async (network: string): Promise<string> => ((await docker.engine.getNetwork(network).inspect()) as { IPAM: { Config: { Subnet: string }[] } }).IPAM.Config[0]!.Subnet;
const backend = async (networkPool: { subnet: string; prefix: number }) => {
  const b = createDockerBackend({ publishHost: '127.0.0.1', root: '/tmp/jinad-nets', baseImage: { strategy: 'build' }, networkPool, docker: process.env.DOCKER_HOST });
  await b.start({ instance, log: createLogger('silent') });
  return b;
};

describe('workspace subnets on the engine', () => {
  it('40 workspace networks, each its own /26 of the pool; a freed subnet is taken again', async () => {
    // Its own pool: daemons of other tests take from the default one meanwhile.
    const b = await backend({ subnet: '10.215.0.0/16', prefix: 26 });
    const ids = Array.from({ length: 40 }, () => `jworkspace-${randomUUID()}`);
    for (const id of ids) await b.isolate(id);
    const subnets = await Promise.all(ids.map(async (id) => subnetOf(id)));
    assert.equal(new Set(subnets).size, 40);
    for (const s of subnets) assert.match(s, /^10\.215\.\d+\.\d+\/26$/);
    await b.removeIsolation(ids[0]!);
    const again = `jworkspace-${randomUUID()}`;
    await b.isolate(again);
    assert.equal(await subnetOf(again), subnets[0]);
  });

  it('an exhausted pool says so, naming the pool and what to do', async () => {
    const b = await backend({ subnet: '10.214.0.0/28', prefix: 29 });
    await b.isolate(`jworkspace-${randomUUID()}`);
    await b.isolate(`jworkspace-${randomUUID()}`);
    await assert.rejects(b.isolate(`jworkspace-${randomUUID()}`), (err: { status?: number; message: string }) => {
      assert.equal(err.status, 503);
      assert.match(err.message, /no free \/29 subnet is left in the workspace network pool 10\.214\.0\.0\/28/);
      return true;
    });
  });
});
