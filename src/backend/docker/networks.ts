/** One bridge network per workspace, named after it: the workspace's isolation. */
import type { Engine } from './engine.ts';
import { idempotent } from './engine.ts';
import type { Labels } from './labels.ts';

/** Create the network if missing; returns its id. Docker allocates the subnet. */
export async function ensureNetwork(docker: Engine, name: string, labels: Labels): Promise<string> {
  const existing = await docker.listNetworks({ filters: JSON.stringify({ name: [name] }) });
  const exact = existing.find((n) => n.Name === name);
  if (exact) return exact.Id;
  const net = await docker.createNetwork({ Name: name, Driver: 'bridge', Labels: labels, CheckDuplicate: true });
  return net.id;
}

export const removeNetwork = (docker: Engine, name: string) => idempotent(() => docker.getNetwork(name).remove());
