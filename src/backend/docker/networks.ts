/** One bridge network per workspace, named after it: the workspace's isolation. */
import type { Engine } from './engine.ts';
import { idempotent } from './engine.ts';
import type { Labels } from './labels.ts';
import { type Cidr, formatCidr, freeSubnet, hostRoutes, parseCidr, poolExhausted } from './subnets.ts';

export interface SubnetPool {
  cidr: Cidr;
  /** Size of each workspace's subnet, e.g. 26 for a /26 (62 addresses). */
  prefix: number;
}

/** The network's driver: `bridge` (one engine), or `overlay` (a Swarm: attachable, optionally encrypted). */
export interface NetworkDriver {
  name: 'bridge' | 'overlay';
  attachable?: boolean;
  options?: Record<string, string>;
}

/** Subnets in use: every network on the engine, and this machine's routes. */
async function takenSubnets(docker: Engine): Promise<Cidr[]> {
  const nets = await docker.listNetworks();
  const onEngine = nets.flatMap((n) => (n.IPAM?.Config ?? []).map((c) => parseCidr(c.Subnet ?? ''))).filter((c): c is Cidr => !!c);
  return [...onEngine, ...hostRoutes()];
}

/**
 * Create the network if missing; returns its id. With a pool, its subnet is the first free one of
 * the pool (a create that loses a race for a subnet takes the next); without, Docker allocates.
 */
export async function ensureNetwork(docker: Engine, name: string, labels: Labels, pool?: SubnetPool, driver: NetworkDriver = { name: 'bridge' }): Promise<string> {
  const existing = await docker.listNetworks({ filters: JSON.stringify({ name: [name] }) });
  const exact = existing.find((n) => n.Name === name);
  if (exact) return exact.Id;
  const base = { Name: name, Driver: driver.name, Labels: labels, CheckDuplicate: true, Attachable: driver.attachable, Options: driver.options };
  if (!pool) return (await docker.createNetwork(base)).id;
  for (let attempt = 1; ; attempt++) {
    const subnet = freeSubnet(pool.cidr, pool.prefix, await takenSubnets(docker), attempt > 1);
    if (!subnet) throw poolExhausted(pool.cidr, pool.prefix);
    try {
      const net = await docker.createNetwork({ ...base, IPAM: { Driver: 'default', Config: [{ Subnet: formatCidr(subnet) }] } });
      return net.id;
    } catch (err) {
      // Another engine client (another daemon) took that subnet between our look and our create:
      // look again, and this time take any free one.
      if (attempt >= 10 || !/overlap/i.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * 50));
    }
  }
}

/** Remove a network; gone already is done, also an overlay network's local copy that went with the Swarm's (HTTP 500 "not found"). */
export async function removeNetwork(docker: Engine, name: string): Promise<void> {
  try {
    await idempotent(() => docker.getNetwork(name).remove());
  } catch (err) {
    if (!/not found/i.test((err as Error).message)) throw err;
  }
}
