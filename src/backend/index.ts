/** The backend named by the config: the local Docker Engine (default) or the in-memory fake. */
import type { JinadConfig } from '../config.ts';
import { createDockerBackend } from './docker/index.ts';
import { createFakeBackend } from './fake/index.ts';
import type { Backend } from './types.ts';

export function createBackend(config: JinadConfig): Backend {
  if (config.backend.kind === 'fake') return createFakeBackend();
  return createDockerBackend({
    docker: config.docker,
    publishHost: config.publishHost,
    reachHost: config.reachHost,
    hostRoot: config.hostRoot,
    root: config.root,
    baseImage: config.baseImage,
    networkPool: config.networkPool || undefined,
  });
}
