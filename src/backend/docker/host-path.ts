/**
 * The host path of a daemon-side folder. Bind mounts name host paths; when the daemon itself
 * runs in a container (its root mounted from the host), its paths differ from the host's, and
 * the engine tells which mount holds the folder.
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Engine } from './engine.ts';

export async function hostPathOf(docker: Engine, dir: string): Promise<string> {
  if (!existsSync('/.dockerenv')) return dir;
  try {
    const info = await docker.getContainer(hostname()).inspect();
    const mount = info.Mounts.filter((m) => dir === m.Destination || dir.startsWith(`${m.Destination}/`)).sort((a, b) => b.Destination.length - a.Destination.length)[0];
    return mount ? mount.Source + dir.slice(mount.Destination.length) : dir;
  } catch {
    return dir;
  }
}
