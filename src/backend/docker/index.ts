/**
 * The Docker backend: a workspace is an image and a bridge network named after it; an object
 * is a container named after its id, on that network, with the work directory bind-mounted at
 * `/workspace` and exactly the requested ports published on `publishHost`. Every container,
 * network and image carries the `io.jinad.*` labels, and listOwned finds them by those.
 */
import path from 'node:path';
import type { Backend, BackendContext, BuildSpec, ObjectSpec, ObjectState, LogRoute, Owned, Spares } from '../types.ts';
import { createBaseImage } from './base-image.ts';
import { type ContainerSpec, type ContainerState, containerLogLines, containerOutput, inspectContainer, removeContainer, runContainer } from './containers.ts';
import { connect, describeConnection, type Engine, idempotent, labelFilter } from './engine.ts';
import { watchContainers } from './events.ts';
import { createHandoff, type Handoff } from './handoff.ts';
import { hostPathOf, onEngineHostNetwork } from './host-path.ts';
import { buildFromTar, folderContext, imageId, removeOwnImage } from './images.ts';
import { DIRECT_PORTS_LABEL, directPortsOf, LABEL, type Labels } from './labels.ts';
import { logConfigFor } from './log-routing.ts';
import { createPythonImage, type PythonImage } from './python-image.ts';
import { ensureNetwork, removeNetwork, type SubnetPool } from './networks.ts';
import { createSparePool, isUnclaimedSpare, type SparePool } from './spares.ts';
import { parseCidr } from './subnets.ts';
import { chownTree, objectUser } from './user.ts';

/** Seconds a stopped object has to close its executors (SIGTERM) before it is killed. */
const STOP_GRACE_S = 5;

export interface DockerBackendOptions {
  /** A unix socket path or a tcp URL; default: the local socket. */
  docker?: string;
  /** Host address that published ports bind to. */
  publishHost: string;
  /** Address the daemon reaches published ports at (default: publishHost; 127.0.0.1 for 0.0.0.0). */
  reachHost?: string;
  /** Host path of the daemon's root, when the daemon runs in a container; found by itself if unset. */
  hostRoot?: string;
  /** The daemon's root: work directories are below it. */
  root: string;
  baseImage: { strategy: 'build' } | { strategy: 'image'; name: string };
  /** Workspace subnets come from this pool (`{ subnet: '10.213.0.0/16', prefix: 26 }`); undefined: Docker's own pools. */
  networkPool?: { subnet: string; prefix: number };
  /** Hand a Flow's gateway the host's listening socket instead of publishing its port through Docker's proxy (handoff.ts); on by itself where it can work. */
  directPorts?: boolean;
}

/** Direct ports need this daemon on the engine's host network, the engine local (a unix socket), and Node (its IPC passes sockets). */
const canHandOff = async (docker: Engine, address: string | undefined) =>
  !(address && /^(tcp|https?|ssh):/.test(address)) && !('Deno' in globalThis) && (await onEngineHostNetwork(docker));

export function createDockerBackend(opts: DockerBackendOptions): Backend {
  const docker = connect(opts.docker);
  const reachHost = opts.reachHost ?? (opts.publishHost === '0.0.0.0' ? '127.0.0.1' : opts.publishHost);
  let ctx: BackendContext | undefined;
  let hostRoot = opts.hostRoot ?? opts.root;
  let logRoute: LogRoute | undefined;
  let baseImage: ReturnType<typeof createBaseImage> | undefined;
  let python: PythonImage | undefined;
  let spares: SparePool | undefined;
  /** The pool as the Backend's `spares` (its states in the backend's words): made once, read on every log line. */
  let sparesView: Spares | undefined;
  const user = objectUser();
  let handoff: Handoff | undefined;

  const bound = (): BackendContext => {
    if (!ctx) throw new Error('the Docker backend is used before start()');
    return ctx;
  };
  const labels = (extra: Labels): Labels => ({ [LABEL.instance]: bound().instance, ...extra });
  /** A daemon-side path as the Docker host sees it, for bind mounts. */
  const onHost = (dir: string) => {
    const rel = path.relative(opts.root, dir);
    return rel.startsWith('..') || path.isAbsolute(rel) ? dir : path.join(hostRoot, rel);
  };
  const toState = (c: ContainerState): ObjectState => ({
    id: c.name,
    ref: c.id,
    kind: c.labels[LABEL.kind] ?? '',
    workspaceId: c.labels[LABEL.workspace] ?? '',
    status: c.status,
    running: c.running,
    exitCode: c.exitCode,
    oomKilled: c.oomKilled,
    startedAt: c.startedAt,
    ports: c.ports,
    host: reachHost,
  });
  const base = () => (baseImage ??= createBaseImage({ docker, strategy: opts.baseImage, log: bound().log.child('base-image') }));
  const pool: SubnetPool | undefined = opts.networkPool && { cidr: parseCidr(opts.networkPool.subnet)!, prefix: opts.networkPool.prefix };
  // Networks are made one at a time here, so this daemon's own builds never race for a subnet.
  let networks: Promise<unknown> = Promise.resolve();
  const isolate = (workspaceId: string): Promise<string> => {
    const made = networks.then(() => ensureNetwork(docker, workspaceId, labels({ [LABEL.kind]: 'workspace', [LABEL.workspace]: workspaceId, [LABEL.object]: workspaceId }), pool));
    networks = made.catch(() => {});
    return made;
  };

  /** An object as a container: named after its id, on its workspace's network, its work directory at /workspace. */
  const toContainer = (spec: ObjectSpec): ContainerSpec => ({
    name: spec.id,
    image: spec.image,
    network: spec.workspaceId,
    entrypoint: spec.command,
    env: spec.env,
    binds: [`${onHost(spec.workdir)}:/workspace`],
    workdir: '/workspace',
    ports: spec.ports,
    publishHost: opts.publishHost,
    labels: labels({ [LABEL.kind]: spec.kind, [LABEL.workspace]: spec.workspaceId, [LABEL.object]: spec.id }),
    gpus: spec.gpus,
    logConfig: logConfigFor(logRoute, spec.workspaceId, spec.id, onHost),
    user: `${user.uid}:${user.gid}`,
    hardened: true,
    resources: spec.resources,
    restart: spec.restart,
  });

  /** The last daemon's spares: done once the engine answers (at start, else at the first listing of states after it). */
  let sparesAdopted = false;
  const adoptSpares = async () => {
    if (sparesAdopted || !spares) return;
    await spares.start(bound().instance).then(
      () => (sparesAdopted = true),
      () => undefined, // the engine is down: the daemon says so elsewhere
    );
  };

  return {
    kind: 'docker',

    async start(context) {
      ctx = context;
      if (!opts.hostRoot) hostRoot = await hostPathOf(docker, opts.root);
      if (opts.directPorts && (await canHandOff(docker, opts.docker ?? process.env.DOCKER_HOST))) {
        handoff = createHandoff({ root: opts.root, publishHost: opts.publishHost, owner: user, onHost, log: () => bound().log.child('handoff') });
        // Containers of an earlier daemon ask again when they start: be there.
        const mine = await docker.listContainers({ all: true, filters: labelFilter(labels({})) }).catch(() => []);
        for (const c of mine) if (c.Labels?.[DIRECT_PORTS_LABEL]) await handoff.adopt((c.Names[0] ?? '').replace(/^\//, ''), directPortsOf(c.Labels));
      }
      const pool = createSparePool(docker, context.log.child('spares'), toContainer);
      spares = pool;
      sparesView = {
        keep: (spec, count) => pool.keep(spec, count),
        claim: async (spec) => {
          const c = await pool.claim(spec);
          return c && toState(c);
        },
        objectOf: (name) => pool.objectOf(name),
        readFile: (id, file) => pool.readFile(id, file),
      };
      await adoptSpares();
    },

    get spares() {
      return sparesView;
    },

    async ping() {
      try {
        await docker.ping();
      } catch (err) {
        throw new Error(
          `cannot reach the Docker Engine at ${describeConnection(opts.docker)} (${(err as Error).message}).\n` +
            '  Start it (`sudo systemctl start docker`, or `sudo dockerd &`), or point DOCKER_HOST / --docker at a running engine.',
          { cause: err },
        );
      }
    },

    async info() {
      const v = await docker.version();
      return { kind: 'docker', version: v.Version, apiVersion: v.ApiVersion, os: v.Os, arch: v.Arch, kernel: v.KernelVersion ?? '' };
    },

    async close() {
      await spares?.close();
      handoff?.closeAll();
    },

    ensureBaseImage: (onLine) => base().ensure(onLine),
    ensurePythonImage: async (onLine) => (python ??= createPythonImage({ docker, log: bound().log.child('python-image') })).ensure(await base().ensure(onLine), onLine),
    pruneBaseImages: () => base().pruneStale(),

    async buildImage(spec: BuildSpec) {
      const context = folderContext(spec);
      /**
       * Images carry only the daemon's labels: the workspace is named by the tag. Per-workspace
       * labels would add a build step that never hits the cache (~60 ms each); without them a new
       * workspace with known content is built entirely from cache, and identical workspaces share
       * one image under two tags (removing a tag keeps what another tag still uses).
       */
      const building = buildFromTar(docker, {
        context: context.pack,
        tag: spec.tag,
        dockerfile: context.dockerfile,
        buildArgs: spec.buildArgs,
        labels: labels({ [LABEL.kind]: 'workspace' }),
        onLine: spec.onLine,
        signal: spec.signal,
      });
      building.catch(() => {});
      // A context that could not be made (a file refused by safe-files) is the reason, not the build's "aborted".
      const [built] = await Promise.all([building, context.done]);
      return { imageId: built.imageId };
    },
    imageId: (ref) => imageId(docker, ref),
    removeImage: (ref) => removeOwnImage(docker, ref, bound().instance),
    async pruneImages(listed) {
      const untagged = (tags: string[]) => tags.every((t) => t === '<none>:<none>');
      const dangling = listed
        ? listed.filter((i) => i.kind === 'workspace' && untagged(i.tags)).map((i) => i.ref)
        : (await docker.listImages({ filters: JSON.stringify({ label: Object.entries(labels({ [LABEL.kind]: 'workspace' })).map(([k, v]) => `${k}=${v}`), dangling: ['true'] }) })).map((i) => i.Id);
      let removed = 0;
      for (const ref of dangling) {
        await removeOwnImage(docker, ref, bound().instance); // 409 (still used by an object): it stays until the next prune
        if (!(await imageId(docker, ref))) removed++;
      }
      return removed;
    },

    async prepareWorkdir(dir) {
      if (process.getuid?.() === 0) await chownTree(dir, user.uid, user.gid);
    },

    isolate,
    async removeIsolation(workspaceId) {
      await spares?.dropWorkspace(workspaceId); // they are on its network
      await removeNetwork(docker, workspaceId);
    },

    async runObject(spec: ObjectSpec) {
      const direct = handoff ? spec.ports.filter((p) => p.direct) : [];
      const container = direct.length ? await handoff!.open(toContainer(spec), direct) : toContainer(spec);
      try {
        return toState(await runContainer(docker, container));
      } catch (err) {
        if (direct.length) handoff!.close(spec.id);
        throw err;
      }
    },
    async inspectObject(id) {
      const c = await inspectContainer(docker, id);
      // Only this instance's objects are ours to report.
      return c && c.labels[LABEL.instance] === bound().instance ? toState(c) : undefined;
    },
    async startObject(id) {
      await idempotent(() => docker.getContainer(id).start(), [304]);
      const c = await inspectContainer(docker, id);
      return c && toState(c);
    },
    // 304: already stopped. A stop through the engine is not a failure for its restart policy.
    stopObject: (id) => idempotent(() => docker.getContainer(id).stop({ t: STOP_GRACE_S }), [304]),
    async restartObject(id) {
      await idempotent(() => docker.getContainer(id).restart({ t: 2 }), []);
      const c = await inspectContainer(docker, id);
      return c && toState(c);
    },
    async removeObject(id) {
      await removeContainer(docker, id);
      spares?.forget(id);
      handoff?.close(id);
    },
    objectOutput: (id, tail) => containerOutput(docker, id, tail),
    objectLogLines: (id, since) => containerLogLines(docker, id, since),

    async objectStates() {
      await adoptSpares();
      const containers = await docker.listContainers({ all: true, filters: labelFilter(labels({})) });
      // The list does not say why a container stopped: ask the stopped ones (few) whether it was an OOM kill.
      const oom = new Set<string>();
      await Promise.all(
        containers
          .filter((c) => c.State === 'exited')
          .map(async (c) => {
            if ((await inspectContainer(docker, c.Id).catch(() => undefined))?.oomKilled) oom.add(c.Id);
          }),
      );
      return containers.filter((c) => !isUnclaimedSpare((c.Names[0] ?? '').replace(/^\//, ''), c.Labels)).map((c): ObjectState => {
        const ports: Record<string, number> = directPortsOf(c.Labels);
        for (const p of c.Ports ?? []) if (p.PublicPort) ports[`${p.PrivatePort}/${p.Type}`] = p.PublicPort;
        return {
          id: (c.Names[0] ?? '').replace(/^\//, ''),
          ref: c.Id,
          kind: c.Labels?.[LABEL.kind] ?? '',
          workspaceId: c.Labels?.[LABEL.workspace] ?? '',
          status: c.State,
          running: c.State === 'running',
          // The list gives "Exited (137) 3 seconds ago"; inspect (on every event) gives the number.
          exitCode: Number(/\((-?\d+)\)/.exec(c.Status)?.[1] ?? 0),
          oomKilled: oom.has(c.Id),
          startedAt: new Date(c.Created * 1000).toISOString(),
          ports,
          host: reachHost,
        };
      });
    },

    async listOwned(filter = {}): Promise<Owned> {
      const wanted = labels(filter.workspaceId ? { [LABEL.workspace]: filter.workspaceId } : {});
      const filters = labelFilter(wanted);
      const [containers, networks, images] = await Promise.all([
        docker.listContainers({ all: true, filters }),
        docker.listNetworks({ filters }),
        filter.workspaceId || filter.images === false ? Promise.resolve([]) : docker.listImages({ filters }),
      ]);
      return {
        objects: containers.map((c) => ({
          ref: c.Id,
          id: (c.Names[0] ?? '').replace(/^\//, ''),
          kind: c.Labels?.[LABEL.kind] ?? '',
          workspaceId: c.Labels?.[LABEL.workspace] ?? '',
        })),
        isolations: networks.map((n) => ({ ref: n.Id, workspaceId: n.Labels?.[LABEL.workspace] ?? n.Name })),
        images: images.map((i) => ({ ref: i.Id, tags: i.RepoTags ?? [], kind: i.Labels?.[LABEL.kind] ?? '' })),
      };
    },

    watch: (fn, onEnd) => watchContainers(docker, labels({}), fn, onEnd),
    routeLogs(route) {
      logRoute = route;
    },
  };
}
