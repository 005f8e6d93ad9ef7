/**
 * Where the daemon stands relative to its engine. Bind mounts name host paths; when the daemon
 * itself runs in a container of that engine (its root mounted from the host), its paths differ
 * from the host's, and the engine tells which mount holds the folder.
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import type { ContainerInspectInfo } from 'dockerode';
import type { Engine } from './engine.ts';

const asked = new WeakMap<Engine, Promise<ContainerInspectInfo | undefined>>();

/** The engine's container this daemon runs in, if it does (a `/.dockerenv` alone may be another engine's, or a machine image's); asked once per engine. */
function ownContainer(docker: Engine): Promise<ContainerInspectInfo | undefined> {
  if (!existsSync('/.dockerenv')) return Promise.resolve(undefined);
  let info = asked.get(docker);
  if (!info) asked.set(docker, (info = docker.getContainer(hostname()).inspect().catch(() => undefined)));
  return info;
}

export async function hostPathOf(docker: Engine, dir: string): Promise<string> {
  const info = await ownContainer(docker);
  const mount = info?.Mounts.filter((m) => dir === m.Destination || dir.startsWith(`${m.Destination}/`)).sort((a, b) => b.Destination.length - a.Destination.length)[0];
  return mount ? mount.Source + dir.slice(mount.Destination.length) : dir;
}

/** Whether a socket this daemon binds is in the engine host's network namespace (not so in a container of its own network). */
export async function onEngineHostNetwork(docker: Engine): Promise<boolean> {
  const info = await ownContainer(docker);
  return !info || info.HostConfig.NetworkMode === 'host';
}
