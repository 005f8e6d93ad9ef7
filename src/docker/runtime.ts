/**
 * Docker Engine access. Nothing else imports dockerode: the rest of the daemon sees only the
 * operations listed in `ContainerRuntime`. Stop/remove are idempotent (304 and 404 count as done).
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import Docker from 'dockerode';
import type { Labels } from './labels.ts';

export interface BuildOptions {
  /** A tar stream of the build context. */
  context: NodeJS.ReadableStream;
  tag: string;
  dockerfile?: string;
  buildargs?: Record<string, string>;
  labels?: Labels;
  /** Each line of build output, as it happens. */
  onLine?: (line: string) => void;
  signal?: AbortSignal;
}

export class BuildError extends Error {
  constructor(message: string, readonly lines: string[]) {
    super(message);
  }
}

export interface PortBinding {
  /** Port inside the container. */
  container: number;
  /** Host port; 0 or undefined lets Docker choose a free one. */
  host?: number;
}

export interface ContainerSpec {
  name: string;
  image: string;
  network?: string;
  /** Network alias(es) so peers on the network reach it by a stable name. */
  aliases?: string[];
  cmd?: string[];
  entrypoint?: string[];
  env?: Record<string, string>;
  /** `hostPath:containerPath[:ro]` */
  binds?: string[];
  workdir?: string;
  ports?: PortBinding[];
  publishHost: string;
  labels: Labels;
  /** GPU device requests; retried without them when the engine has no GPU driver. */
  gpus?: { count?: number; deviceIds?: string[] };
  /** Docker log driver (`fluentd`, …) and its options. */
  logConfig?: { type: string; config: Record<string, string> };
}

/** One line of a container's output, as Docker kept it. */
export interface ContainerLogLine {
  /** RFC 3339 with nanoseconds, from Docker. */
  time: string;
  stream: 'stdout' | 'stderr';
  message: string;
}

export interface ContainerState {
  id: string;
  name: string;
  /** running | exited | restarting | created | paused | dead */
  status: string;
  exitCode: number;
  running: boolean;
  startedAt: string;
  /** `"<container port>/tcp"` → host port. */
  ports: Record<string, number>;
  labels: Labels;
}

export interface LabelledObjects {
  containers: { id: string; name: string; labels: Labels }[];
  networks: { id: string; name: string; labels: Labels }[];
  images: { id: string; tags: string[]; labels: Labels }[];
}

export interface ContainerRuntime {
  ping(): Promise<void>;
  version(): Promise<{ version: string; apiVersion: string; os: string; arch: string; kernel: string }>;
  buildImage(opts: BuildOptions): Promise<{ imageId: string; lines: string[] }>;
  /** Image id for a tag or id, undefined when absent. */
  imageId(ref: string): Promise<string | undefined>;
  removeImage(ref: string): Promise<void>;
  /** Create the network if missing; returns its id. Docker allocates the subnet. */
  ensureNetwork(name: string, labels: Labels): Promise<string>;
  removeNetwork(name: string): Promise<void>;
  runContainer(spec: ContainerSpec): Promise<ContainerState>;
  inspectContainer(name: string): Promise<ContainerState | undefined>;
  /** Stop (fast, the container has an init) and remove; a missing container is fine. */
  removeContainer(name: string): Promise<void>;
  /** The last lines a container wrote (stdout and stderr). */
  containerLogs(name: string, tail: number): Promise<string[]>;
  /** Lines with their times and streams, after `since` (unix seconds, fractions allowed). */
  containerLogLines(name: string, since?: number): Promise<ContainerLogLine[]>;
  /** Call `fn` for container events (die, destroy, start, …) of containers with these labels; returns a stop function. */
  watchContainers(labels: Labels, fn: (event: { action: string; name: string; labels: Labels }) => void): Promise<() => void>;
  /** Every container, network and image carrying all the given labels. */
  listLabelled(labels: Labels): Promise<LabelledObjects>;
  /** Host source of the mount that holds `dir`, when this process runs in a container. */
  hostPathOf(dir: string): Promise<string>;
}

/** `unix:///path`, `/path`, `tcp://host:port`, `http(s)://host:port` → dockerode options. */
export function dockerOptions(conn?: string): Docker.DockerOptions {
  if (!conn) return { socketPath: '/var/run/docker.sock' };
  if (conn.startsWith('unix://')) return { socketPath: conn.slice('unix://'.length) };
  if (conn.startsWith('/')) return { socketPath: conn };
  const url = new URL(conn.replace(/^tcp:/, 'http:'));
  return { host: url.hostname, port: Number(url.port || 2375), protocol: url.protocol === 'https:' ? 'https' : 'http' };
}

const statusOf = (err: unknown) => (err as { statusCode?: number })?.statusCode;
const labelFilter = (labels: Labels) => JSON.stringify({ label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) });

/**
 * The frames of a multiplexed log buffer (`Tty: false`): an 8-byte header (stream 1 = stdout,
 * 2 = stderr; big-endian length) before each chunk. A buffer without headers is one stdout frame.
 */
function* frames(buf: Buffer): Generator<{ stream: 'stdout' | 'stderr'; text: string }> {
  if (!(buf.length >= 8 && (buf[0] === 1 || buf[0] === 2) && buf[1] === 0)) {
    if (buf.length) yield { stream: 'stdout', text: buf.toString('utf8') };
    return;
  }
  for (let i = 0; i + 8 <= buf.length; ) {
    const len = buf.readUInt32BE(i + 4);
    yield { stream: buf[i] === 2 ? 'stderr' : 'stdout', text: buf.toString('utf8', i + 8, i + 8 + len) };
    i += 8 + len;
  }
}

export function createDockerRuntime(conn?: string): ContainerRuntime {
  const docker = new Docker(dockerOptions(conn));

  const inspectContainer = async (name: string): Promise<ContainerState | undefined> => {
    try {
      const info = await docker.getContainer(name).inspect();
      const ports: Record<string, number> = {};
      for (const [key, binds] of Object.entries(info.NetworkSettings.Ports ?? {})) {
        const hostPort = (binds as { HostPort: string }[] | null)?.[0]?.HostPort;
        if (hostPort) ports[key] = Number(hostPort);
      }
      return {
        id: info.Id,
        name: info.Name.replace(/^\//, ''),
        status: info.State.Status,
        exitCode: info.State.ExitCode,
        running: info.State.Running,
        startedAt: info.State.StartedAt,
        ports,
        labels: info.Config.Labels ?? {},
      };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  };

  const removeContainer = async (name: string) => {
    const c = docker.getContainer(name);
    try {
      await c.remove({ force: true, v: true });
    } catch (err) {
      // 404: already gone; 409: removal already in progress.
      if (statusOf(err) !== 404 && statusOf(err) !== 409) throw err;
    }
  };

  /**
   * A failed or aborted build leaves its committed layers untagged and without our labels
   * (the build's labels come as its last step). Removing the last one prunes its untagged
   * parents; a tagged layer (the base image) is never touched.
   */
  const removeLeftover = async (layer: string | undefined) => {
    if (!layer) return;
    try {
      const info = await docker.getImage(layer).inspect();
      if ((info.RepoTags ?? []).length === 0) await docker.getImage(layer).remove({ noprune: false });
    } catch {
      // gone already, or a parent of another image: nothing of ours to clean
    }
  };

  return {
    async ping() {
      await docker.ping();
    },

    async version() {
      const v = await docker.version();
      return { version: v.Version, apiVersion: v.ApiVersion, os: v.Os, arch: v.Arch, kernel: v.KernelVersion ?? '' };
    },

    async buildImage(opts) {
      const stream = await docker.buildImage(opts.context, {
        t: opts.tag,
        dockerfile: opts.dockerfile,
        buildargs: opts.buildargs,
        labels: opts.labels,
        rm: true,
        forcerm: true,
        pull: false,
      } as Docker.ImageBuildOptions);
      const lines: string[] = [];
      let error: string | undefined;
      let imageId: string | undefined;
      /** The last layer the build committed (` ---> <id>`): what a failed build leaves behind. */
      let lastLayer: string | undefined;
      const onAbort = () => (stream as unknown as { destroy(e?: Error): void }).destroy(new Error('build aborted'));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        await new Promise<void>((resolve, reject) => {
          docker.modem.followProgress(
            stream,
            (err) => (err ? reject(err) : resolve()),
            (ev: { stream?: string; status?: string; error?: string; errorDetail?: { message?: string }; aux?: { ID?: string } }) => {
              if (ev.aux?.ID) imageId = ev.aux.ID;
              const text = ev.stream ?? ev.status;
              if (text) {
                for (const line of text.split('\n')) {
                  if (!line.trim()) continue;
                  const layer = /^ ---> ([0-9a-f]{12})$/.exec(line);
                  if (layer) lastLayer = layer[1];
                  lines.push(line);
                  opts.onLine?.(line);
                }
              }
              // A failed build does not reject: the failure is an event in the stream.
              if (ev.error) {
                error = ev.errorDetail?.message ?? ev.error;
                lines.push(error);
                opts.onLine?.(error);
              }
            },
          );
        });
      } catch (err) {
        await removeLeftover(lastLayer);
        throw err;
      } finally {
        opts.signal?.removeEventListener('abort', onAbort);
      }
      if (opts.signal?.aborted || error) {
        await removeLeftover(lastLayer);
        if (error) throw new BuildError(error, lines);
        throw opts.signal?.reason ?? new Error('build aborted');
      }
      const id = imageId ?? (await docker.getImage(opts.tag).inspect()).Id;
      return { imageId: id, lines };
    },

    async imageId(ref) {
      try {
        return (await docker.getImage(ref).inspect()).Id;
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw err;
      }
    },

    async removeImage(ref) {
      try {
        await docker.getImage(ref).remove({ force: false, noprune: false });
      } catch (err) {
        // 404: gone already; 409: still used by a container (it goes with that container's removal).
        if (statusOf(err) !== 404 && statusOf(err) !== 409) throw err;
      }
    },

    async ensureNetwork(name, labels) {
      const existing = await docker.listNetworks({ filters: JSON.stringify({ name: [name] }) });
      const exact = existing.find((n) => n.Name === name);
      if (exact) return exact.Id;
      const net = await docker.createNetwork({ Name: name, Driver: 'bridge', Labels: labels, CheckDuplicate: true });
      return net.id;
    },

    async removeNetwork(name) {
      try {
        await docker.getNetwork(name).remove();
      } catch (err) {
        if (statusOf(err) !== 404) throw err;
      }
    },

    async runContainer(spec) {
      const exposed: Record<string, object> = {};
      const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
      for (const p of spec.ports ?? []) {
        exposed[`${p.container}/tcp`] = {};
        bindings[`${p.container}/tcp`] = [{ HostIp: spec.publishHost, HostPort: p.host ? String(p.host) : '' }];
      }
      const deviceRequests = spec.gpus
        ? [{ Driver: '', Count: spec.gpus.deviceIds ? 0 : (spec.gpus.count ?? -1), DeviceIDs: spec.gpus.deviceIds, Capabilities: [['gpu']] }]
        : undefined;
      const create = (withGpus: boolean) =>
        docker.createContainer({
          name: spec.name,
          Image: spec.image,
          Cmd: spec.cmd,
          Entrypoint: spec.entrypoint,
          Env: Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
          WorkingDir: spec.workdir,
          Labels: spec.labels,
          ExposedPorts: exposed,
          HostConfig: {
            Init: true, // an init as PID 1 forwards signals, so stop takes milliseconds
            Binds: spec.binds,
            PortBindings: bindings,
            NetworkMode: spec.network,
            ExtraHosts: ['host.docker.internal:host-gateway'],
            DeviceRequests: withGpus ? deviceRequests : undefined,
            LogConfig: spec.logConfig ? { Type: spec.logConfig.type, Config: spec.logConfig.config } : undefined,
          },
          NetworkingConfig: spec.network && spec.aliases ? { EndpointsConfig: { [spec.network]: { Aliases: spec.aliases } } } : undefined,
        });
      let container = await create(true);
      try {
        await container.start();
      } catch (err) {
        await removeContainer(spec.name);
        if (!deviceRequests || !/could not select device driver/i.test(String((err as Error).message))) throw err;
        container = await create(false);
        try {
          await container.start();
        } catch (err2) {
          await removeContainer(spec.name);
          throw err2;
        }
      }
      const state = await inspectContainer(container.id);
      if (!state) throw new Error(`container ${spec.name} vanished right after it started`);
      return state;
    },

    inspectContainer,
    removeContainer,

    async containerLogs(name, tail) {
      try {
        const buf = (await docker.getContainer(name).logs({ stdout: true, stderr: true, tail, follow: false })) as unknown as Buffer;
        return [...frames(buf)].map((f) => f.text).join('').split('\n').filter((l) => l.length > 0);
      } catch (err) {
        if (statusOf(err) === 404) return [];
        throw err;
      }
    },

    async containerLogLines(name, since) {
      let buf: Buffer;
      try {
        buf = (await docker.getContainer(name).logs({ stdout: true, stderr: true, timestamps: true, follow: false, since: since ?? 0 })) as unknown as Buffer;
      } catch (err) {
        if (statusOf(err) === 404) return [];
        throw err;
      }
      const out: ContainerLogLine[] = [];
      for (const { stream, text } of frames(buf)) {
        for (const line of text.split('\n')) {
          if (!line) continue;
          const sp = line.indexOf(' ');
          out.push({ time: line.slice(0, sp), stream, message: line.slice(sp + 1) });
        }
      }
      return out;
    },

    async watchContainers(labels, fn) {
      const filters = { type: ['container'], label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
      const stream = (await docker.getEvents({ filters: JSON.stringify(filters) })) as unknown as NodeJS.ReadableStream & { destroy(): void };
      let buf = '';
      stream.on('data', (chunk: Buffer) => {
        buf += chunk.toString('utf8');
        let nl = buf.indexOf('\n');
        while (nl >= 0) {
          try {
            const ev = JSON.parse(buf.slice(0, nl)) as { Action: string; Actor: { Attributes: Record<string, string> } };
            const { name, ...attrs } = ev.Actor.Attributes;
            fn({ action: ev.Action, name: name ?? '', labels: attrs });
          } catch {
            // not an event line
          }
          buf = buf.slice(nl + 1);
          nl = buf.indexOf('\n');
        }
      });
      stream.on('error', () => {});
      return () => stream.destroy();
    },

    async listLabelled(labels) {
      const filters = labelFilter(labels);
      const [containers, networks, images] = await Promise.all([
        docker.listContainers({ all: true, filters }),
        docker.listNetworks({ filters }),
        docker.listImages({ filters }),
      ]);
      return {
        containers: containers.map((c) => ({ id: c.Id, name: (c.Names[0] ?? '').replace(/^\//, ''), labels: c.Labels ?? {} })),
        networks: networks.map((n) => ({ id: n.Id, name: n.Name, labels: n.Labels ?? {} })),
        images: images.map((i) => ({ id: i.Id, tags: i.RepoTags ?? [], labels: i.Labels ?? {} })),
      };
    },

    async hostPathOf(dir) {
      if (!existsSync('/.dockerenv')) return dir;
      try {
        const info = await docker.getContainer(hostname()).inspect();
        const mount = info.Mounts.filter((m) => dir === m.Destination || dir.startsWith(`${m.Destination}/`)).sort(
          (a, b) => b.Destination.length - a.Destination.length,
        )[0];
        return mount ? mount.Source + dir.slice(mount.Destination.length) : dir;
      } catch {
        return dir;
      }
    },
  };
}
