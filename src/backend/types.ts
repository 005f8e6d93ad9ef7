/**
 * The Backend: where JinaD's things run, in JinaD's words. A workspace gets an image built from
 * its files and an isolated network; an object (a Flow, Pod, Pea, a workspace's `run` command,
 * or a kind a plugin adds) runs from an `ObjectSpec` and is inspected, followed and removed by
 * its id. Everything a backend makes is tagged with the daemon's instance, its kind, its
 * workspace and its id, and found again by those tags (`listOwned`): they are the truth about
 * what runs, the store records intent, and start-up reconciles the two.
 *
 * Implementations: `docker/` (the local Docker Engine; the only place dockerode is imported),
 * `swarm/` (a Docker Swarm: services on several machines, images through a registry; it builds
 * on docker/'s connection, images and networks) and `fake/` (in memory, for tests that need no engine).
 */
import type { Resources } from '../contract/resources.ts';
import type { RestartPolicy } from '../contract/restart.ts';
import type { Logger } from '../logger.ts';

/** GPU device requests (`.jinad` gpus): a count (-1 = all) or device ids. */
export interface GpuRequest {
  count?: number;
  deviceIds?: string[];
}

export interface BuildSpec {
  workspaceId: string;
  /** The image name, e.g. `jworkspace:<uuid>`. */
  tag: string;
  /** The daemon-side folder whose files are the build context. */
  dir: string;
  /** Leave a file or folder (path relative to `dir`) out of the context. */
  exclude?: (rel: string) => boolean;
  /** A Dockerfile inside `dir`, or the text of one generated for it. */
  dockerfile: { path: string } | { text: string };
  buildArgs?: Record<string, string>;
  /** Each line of build output, as it happens. */
  onLine?: (line: string) => void;
  signal?: AbortSignal;
}

/** A build that ran and failed: the message and every output line. */
export class BuildError extends Error {
  constructor(
    message: string,
    readonly lines: string[],
  ) {
    super(message);
  }
}

/** A port inside an object, reachable from outside: on `host` (same number, fixed), else one the backend picks. */
export interface PortRequest {
  container: number;
  host?: number;
  /**
   * The object's main process listens on it itself (a Flow's gateway): a backend may hand that
   * process the host's listening socket instead of proxying every byte (Docker: handoff.ts).
   */
  direct?: boolean;
}

export interface ObjectSpec {
  /** The object's id; also its name in the backend. */
  id: string;
  /** flow, pod, pea, workspace-run, or a kind a plugin adds. */
  kind: string;
  workspaceId: string;
  image: string;
  command: string[];
  env: Record<string, string>;
  ports: PortRequest[];
  /** The daemon-side work directory, mounted read-write at `/workspace`. */
  workdir: string;
  gpus?: GpuRequest;
  /** Memory (bytes), CPUs and processes the object may use; unset keys are unlimited. */
  resources: Resources;
  /** Started again by the backend when it exits (default: never). */
  restart?: RestartPolicy;
  /** Where it may run, on a backend of several machines (Swarm: `node.labels.gpu==true`); one machine ignores them. */
  constraints?: string[];
  /** Copies of it to run, spread over the machines (a backend that `spreadsReplicas`; default 1). */
  replicas?: number;
}

/** A change to a running object's copies: how many, or their environment (new copies start before old ones stop). */
export interface ObjectChange {
  replicas?: number;
  env?: Record<string, string>;
}

/** One task of an object on a backend of several machines (a Swarm service's task). */
export interface TaskState {
  slot: number;
  /** The node's hostname. */
  node: string;
  /** The node's address: its published ports (host mode) answer there. */
  address: string;
  /** Swarm's task state: running, starting, failed, rejected, … */
  state: string;
  /** Why it failed or waits (`no suitable node …`), as Swarm says it. */
  error?: string;
  /** `"<port inside>/tcp"` → the port published on its node (host mode). */
  ports: Record<string, number>;
  /** Tasks before it in its slot that ended. */
  restarts: number;
}

export interface ObjectState {
  id: string;
  /** The backend's own id of it (a container id). */
  ref: string;
  kind: string;
  workspaceId: string;
  /** running | exited | restarting | created | paused | dead */
  status: string;
  running: boolean;
  exitCode: number;
  /** It was killed for going over its memory limit. */
  oomKilled: boolean;
  startedAt: string;
  /** `"<port inside>/tcp"` → the published port. */
  ports: Record<string, number>;
  /** The address at which the daemon reaches published ports. */
  host: string;
  /** On a backend of several machines: where each of its tasks runs. */
  tasks?: TaskState[];
}

/** The base URL of a port an object publishes, as the daemon reaches it. */
export function endpointOf(state: ObjectState, port: number): string | undefined {
  const published = state.ports[`${port}/tcp`];
  return published ? `http://${state.host.includes(':') ? `[${state.host}]` : state.host}:${published}` : undefined;
}

/** One line of an object's output, as the backend kept it. */
export interface OutputLine {
  /** RFC 3339, as precise as the backend keeps it. */
  time: string;
  stream: 'stdout' | 'stderr';
  message: string;
}

/** What a backend holds for this daemon instance. */
export interface Owned {
  objects: { ref: string; id: string; kind: string; workspaceId: string }[];
  /** Workspace networks. */
  isolations: { ref: string; workspaceId: string }[];
  /** Images: `tags` name them (`jworkspace:<uuid>`). */
  images: { ref: string; tags: string[]; kind: string }[];
}

export interface ObjectEvent {
  /** start | die | oom | destroy | … */
  action: string;
  /** `die`: the exit code. */
  exitCode?: number;
  id: string;
  kind: string;
  workspaceId: string;
  /** The backend's own id of the thing the event is about (a container id), when it says. */
  ref?: string;
}

/** Where objects' output goes: a forward-protocol (Fluentd) receiver, tagged `jinad.<workspace>.<object>`. */
export interface LogRoute {
  /** `unix:///path/to/socket` (one host) or `tcp://host:port`. */
  address: string;
  /** Where senders on other machines reach the receiver (`tcp://host:port`), when it listens there for a backend with `logSenders`. */
  network?: string;
}

export interface BackendInfo {
  kind: string;
  version: string;
  apiVersion: string;
  os: string;
  arch: string;
  kernel: string;
}

/**
 * Warm spares (scale to zero; Docker: docker/spares.ts): containers started ahead from an
 * object's spec less its id and envs, which become an object of that spec on demand instead of
 * a container starting. The spec given is the spare's: envs reach the object when it starts in it.
 */
export interface Spares {
  /** Keep `count` spares ready for objects made like `spec` (`spec.id`: one that wants them, until it is removed). */
  keep(spec: ObjectSpec, count: number): void;
  /** A ready spare made into object `spec.id` (its stopped container, if any, replaced); undefined when none is ready. */
  claim(spec: ObjectSpec): Promise<ObjectState | undefined>;
  /** The object a claimed spare became, by the spare's first name (its log tag names that). */
  objectOf(name: string): string | undefined;
  /** A file in an object's own filesystem (its partial daemon's state, kept across a stop); undefined when absent. */
  readFile(id: string, file: string): Promise<Buffer | undefined>;
}

export interface BackendContext {
  /** The daemon instance: every object made carries it, and only those are listed. */
  instance: string;
  log: Logger;
}

export interface Backend {
  /** `docker`, `swarm`, `fake`, … */
  readonly kind: string;
  /**
   * A backend of several machines: a Pod's replicas run as copies of the object spread over them
   * (`ObjectSpec.replicas`, changed by `updateObject`), each with one replica, instead of as
   * processes inside one object.
   */
  readonly spreadsReplicas?: boolean;
  /** Warm spares, on a backend that keeps them (after start()). */
  readonly spares?: Spares;
  /** Bind to a daemon instance and prepare (e.g. learn the host path of the root). */
  start(ctx: BackendContext): Promise<void>;
  /** Resolves when the backend answers; rejects with a message that says how to fix it. */
  ping(): Promise<void>;
  info(): Promise<BackendInfo>;
  close(): Promise<void>;

  /** The runtime base image workspace images start FROM; made when missing. */
  ensureBaseImage(onLine?: (line: string) => void): Promise<string>;
  /** The base image with this machine's Python 3 and pip added (for workspaces that bring Python); made when missing. */
  ensurePythonImage(onLine?: (line: string) => void): Promise<string>;
  /** Remove runtime base images of other versions that nothing uses. */
  pruneBaseImages(): Promise<number>;
  buildImage(spec: BuildSpec): Promise<{ imageId: string }>;
  /** An image's id, or undefined when it is absent. */
  imageId(ref: string): Promise<string | undefined>;
  removeImage(ref: string): Promise<void>;
  /**
   * Remove this instance's workspace images that lost their tag (replaced by a rebuild) and that
   * nothing uses any more. Call it while no build of this instance runs: a build's last layer is
   * untagged for a moment before its tag lands. `listed`: this instance's images as `listOwned`
   * just gave them (saves listing them again: an engine with many images takes ~0.3 s a listing).
   */
  pruneImages(listed?: Owned['images']): Promise<number>;

  /**
   * Make a work directory (and everything in it) writable by the unprivileged user objects run
   * as. Call it after the daemon wrote files there, before objects mount it.
   */
  prepareWorkdir(dir: string): Promise<void>;

  /** Make (or find) the workspace's isolated network; returns its id. */
  isolate(workspaceId: string): Promise<string>;
  /** Remove it; rejects while objects are still attached. */
  removeIsolation(workspaceId: string): Promise<void>;

  /** Start an object; it is reachable on its ports when this resolves (its process may still be starting). */
  runObject(spec: ObjectSpec): Promise<ObjectState>;
  inspectObject(id: string): Promise<ObjectState | undefined>;
  /** Start an object that stopped (e.g. when its engine restarted); its non-fixed ports may change. */
  startObject(id: string): Promise<ObjectState | undefined>;
  /** Stop a running object and keep it (its restart policy does not start it again); an absent or stopped one is fine. */
  stopObject(id: string): Promise<void>;
  /** Stop a running object and start it again (its restart policy aside); undefined when it is gone. */
  restartObject(id: string): Promise<ObjectState | undefined>;
  /** Stop and remove; an absent object is fine. */
  removeObject(id: string): Promise<void>;
  /** Change a spread object's copies (`spreadsReplicas` backends); resolves once the change is rolled out. */
  updateObject?(id: string, change: ObjectChange): Promise<ObjectState | undefined>;
  /** The last `tail` lines an object wrote. */
  objectOutput(id: string, tail: number): Promise<string[]>;
  /** Lines with their times and streams, after `since` (unix seconds, fractions allowed). */
  objectLogLines(id: string, since?: number): Promise<OutputLine[]>;

  /** The states of every object of this instance, in one call. */
  objectStates(): Promise<ObjectState[]>;
  /** Everything this instance owns, optionally of one workspace; `images: false` leaves images out (their listing is the slow one). */
  listOwned(filter?: { workspaceId?: string; images?: boolean }): Promise<Owned>;
  /** Call `fn` for object events, and `onEnd` if the stream ends (the engine went away); returns a stop function. */
  watch(fn: (event: ObjectEvent) => void, onEnd?: () => void): Promise<() => void>;
  /** Send every object started from now on to this log receiver (undefined: the backend's default). */
  routeLogs(route: LogRoute | undefined): void;
  /**
   * Only where objects' output comes over the network (a Swarm's nodes): the addresses that may
   * send it, read fresh. The receiver then also listens on TCP, for them alone.
   */
  logSenders?(): Promise<string[]>;
}
