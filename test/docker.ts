/**
 * The raw Docker Engine, as tests look at it: by labels, outside any daemon. Built on the Docker
 * backend's own modules, so tests check what the daemon made with the engine's eyes.
 */
import { containerOutput, inspectContainer, removeContainer, runContainer } from '../src/backend/docker/containers.ts';
import { connect, labelFilter } from '../src/backend/docker/engine.ts';
import { buildFromTar, imageId, removeImage } from '../src/backend/docker/images.ts';
import type { Labels } from '../src/backend/docker/labels.ts';
import { ensureNetwork, removeNetwork } from '../src/backend/docker/networks.ts';

export { LABEL } from '../src/backend/docker/labels.ts';

const engine = connect(process.env.DOCKER_HOST);

export const docker = {
  engine,
  version: () => engine.version(),
  buildImage: (opts: Parameters<typeof buildFromTar>[1]) => buildFromTar(engine, opts),
  imageId: (ref: string) => imageId(engine, ref),
  removeImage: (ref: string) => removeImage(engine, ref),
  ensureNetwork: (name: string, labels: Labels) => ensureNetwork(engine, name, labels),
  removeNetwork: (name: string) => removeNetwork(engine, name),
  runContainer: (spec: Parameters<typeof runContainer>[1]) => runContainer(engine, spec),
  inspectContainer: (name: string) => inspectContainer(engine, name),
  removeContainer: (name: string) => removeContainer(engine, name),
  containerLogs: (name: string, tail: number) => containerOutput(engine, name, tail),
  /** Every container, network and image carrying all the labels. */
  async listLabelled(labels: Labels) {
    const filters = labelFilter(labels);
    const [containers, networks, images] = await Promise.all([engine.listContainers({ all: true, filters }), engine.listNetworks({ filters }), engine.listImages({ filters })]);
    return {
      containers: containers.map((c) => ({ id: c.Id, name: (c.Names[0] ?? '').replace(/^\//, ''), labels: c.Labels ?? {} })),
      networks: networks.map((n) => ({ id: n.Id, name: n.Name, labels: n.Labels ?? {} })),
      images: images.map((i) => ({ id: i.Id, tags: i.RepoTags ?? [], labels: i.Labels ?? {} })),
    };
  },
};
