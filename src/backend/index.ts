/** The backend named by the config: the local Docker Engine (default), a Docker Swarm, or the in-memory fake. */
import type { JinadConfig } from '../config.ts';
import { createDockerBackend } from './docker/index.ts';
import { createFakeBackend } from './fake/index.ts';
import { createSwarmBackend } from './swarm/index.ts';
import type { Backend } from './types.ts';

export function createBackend(config: JinadConfig): Backend {
  if (config.backend.kind === 'fake') return createFakeBackend();
  const docker = {
    docker: config.docker,
    publishHost: config.publishHost,
    reachHost: config.reachHost,
    hostRoot: config.hostRoot,
    root: config.root,
    baseImage: config.baseImage,
    networkPool: config.networkPool || undefined,
  };
  if (config.backend.kind === 'swarm') {
    const { registry, publish, encrypted, logAddress } = config.backend;
    return createSwarmBackend({ ...docker, registry, publishMode: publish, encrypted, logAddress });
  }
  return createDockerBackend({ ...docker, directPorts: config.directPorts });
}
