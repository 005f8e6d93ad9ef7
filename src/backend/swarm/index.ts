/**
 * The Swarm backend: JinaD on a Docker Swarm of several machines, through a manager's API.
 *
 * - A workspace's image is built on the manager (as on the Docker backend, whose image code this
 *   reuses) and pushed to the registry (`registry.ts`), so every node can pull it. Its files are
 *   in the image at `/workspace` (the generated Dockerfile copies them there): a task reads them on
 *   whatever node it runs, with no shared volume; what a task writes stays in its own container.
 * - A workspace's network is an attachable overlay network (optionally encrypted), from the same
 *   subnet pool as the bridge networks.
 * - An object is a service named after its id (`services.ts`), labelled like a container, its
 *   ports published on the node of the task (`host`, the default: no IPVS needed) or through the
 *   routing mesh (`ingress`). Its live state comes from its tasks, polled once a second for the
 *   whole Swarm (task changes are not in the manager's event stream), which also makes the
 *   object events (start, die, destroy) the daemon's keeper and log collector follow.
 */
import type { Backend, BackendContext, LogRoute, ObjectEvent, ObjectSpec, ObjectState, Owned } from '../types.ts';
import { outputLines, readLogs, timedLines } from '../docker/containers.ts';
import { connect, describeConnection, idempotent, labelFilter, statusOf } from '../docker/engine.ts';
import { createDockerBackend, type DockerBackendOptions } from '../docker/index.ts';
import { LABEL, type Labels } from '../docker/labels.ts';
import { logConfigFor } from '../docker/log-routing.ts';
import { ensureNetwork, removeNetwork, type SubnetPool } from '../docker/networks.ts';
import { parseCidr } from '../docker/subnets.ts';
import { OBJECT_UID } from '../docker/user.ts';
import { deleteFromRegistry, pingRegistry, pushImage, registryRef } from './registry.ts';
import { type Nodes, type PublishMode, publishedPorts, type Service, serviceSpec, stateOf, type Task } from './services.ts';

const STOP_GRACE_S = 5;
/** How often the tasks of the whole Swarm are read for events. */
const POLL_MS = 1000;
/** Between looks at a starting task: short, since every start waits for this. */
const TASK_POLL_MS = 20;
/** How long a new task may take to run (an image pull on a node included). */
const RUN_TIMEOUT_MS = 120_000;
/** A label on a stopped (scaled to 0) service: the tasks it had, for the start that follows. */
const REPLICAS_LABEL = 'io.jinad.replicas';

export interface SwarmBackendOptions extends DockerBackendOptions {
  /** `host:port` of the registry every node pulls workspace images from. */
  registry: string;
  publishMode: PublishMode;
  /** Encrypt the workspaces' overlay networks (IPsec between nodes). */
  encrypted: boolean;
  /** The log receiver's address as the nodes see it (`tcp://10.0.0.1:24224`); default: where it listens (`logs.host`:`logs.port`). */
  logAddress?: string;
}

export function createSwarmBackend(opts: SwarmBackendOptions): Backend {
  const docker = connect(opts.docker);
  // Images (the base image, builds, pruning) are made on the manager exactly as on one engine.
  const local = createDockerBackend(opts);
  const reachHost = opts.reachHost ?? (opts.publishHost === '0.0.0.0' ? '127.0.0.1' : opts.publishHost);
  let ctx: BackendContext | undefined;
  let logRoute: LogRoute | undefined;
  let nodes: Nodes = new Map();
  let nodesRead = 0;

  const bound = (): BackendContext => {
    if (!ctx) throw new Error('the Swarm backend is used before start()');
    return ctx;
  };
  const labels = (extra: Labels): Labels => ({ [LABEL.instance]: bound().instance, ...extra });
  const pool: SubnetPool | undefined = opts.networkPool && { cidr: parseCidr(opts.networkPool.subnet)!, prefix: opts.networkPool.prefix };

  /** Node id → hostname and address; read again every 10 s, or when a task names a node not known yet. */
  const nodesFor = async (tasks: Task[]): Promise<Nodes> => {
    if (Date.now() - nodesRead > 10_000 || tasks.some((t) => t.NodeID && !nodes.has(t.NodeID))) {
      const list = await docker.listNodes();
      nodes = new Map(list.map((n) => [n.ID, { name: n.Description?.Hostname ?? n.ID, addr: n.Status?.Addr ?? '' }]));
      nodesRead = Date.now();
    }
    return nodes;
  };
  const ownServices = async () => (await docker.listServices({ filters: labelFilter(labels({})) })) as unknown as Service[];
  /** This instance's services and every task of the Swarm, grouped by service: one listing of each. */
  const everything = async () => {
    const [services, tasks] = await Promise.all([ownServices(), docker.listTasks() as Promise<Task[]>]);
    const byService = new Map<string, Task[]>();
    for (const t of tasks) {
      if (!byService.has(t.ServiceID)) byService.set(t.ServiceID, []);
      byService.get(t.ServiceID)!.push(t);
    }
    return { services, tasks, byService };
  };
  const tasksOfService = async (serviceId: string) => (await docker.listTasks({ filters: JSON.stringify({ service: [serviceId] }) })) as Task[];
  const stateFrom = async (service: Service, tasks: Task[]) => stateOf(service, tasks, await nodesFor(tasks), { publishMode: opts.publishMode, reachHost });

  async function inspectService(id: string): Promise<(Service & { Version?: { Index: number }; Spec: Record<string, any> }) | undefined> {
    try {
      const s = (await docker.getService(id).inspect()) as Service & { Version?: { Index: number }; Spec: Record<string, any> };
      return s.Spec?.Labels?.[LABEL.instance] === bound().instance ? s : undefined;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }
  async function inspectObject(id: string): Promise<ObjectState | undefined> {
    const service = await inspectService(id);
    return service && stateFrom(service, await tasksOfService(service.ID));
  }

  /** Change a service's spec (its replicas, a forced restart of its tasks), from the version read. */
  async function updateService(id: string, change: (spec: Record<string, any>) => void): Promise<void> {
    const service = await inspectService(id);
    if (!service) return;
    const spec = structuredClone(service.Spec);
    change(spec);
    await docker.getService(id).update({ version: service.Version?.Index, ...spec });
  }

  /** The ids of a service's tasks now: what a change is told apart from (no clocks compared: the manager's may differ). */
  const taskIds = async (id: string) => new Set((await tasksOfService(id).catch(() => [])).map((t) => t.ID));

  /**
   * Until `wanted` tasks of the service run (all published ports known): then its state. With
   * `replaced` (a new service, a start, a forced restart, a new environment) only tasks that are
   * not in `before` count. A new task Swarm cannot place, whose node cannot pull the image, or a
   * rolling update Swarm paused, fails this at once with Swarm's own words (it would wait forever).
   */
  async function untilRunning(id: string, wanted: number, before = new Set<string>(), replaced = true): Promise<ObjectState> {
    const deadline = Date.now() + RUN_TIMEOUT_MS;
    for (;;) {
      const service = await inspectService(id);
      if (!service) throw new Error(`the service ${id} was removed while it started`);
      const tasks = await tasksOfService(service.ID);
      const fresh = tasks.filter((t) => !before.has(t.ID));
      const state = await stateFrom(service, tasks);
      const portCount = service.Spec.EndpointSpec?.Ports?.length ?? 0;
      const up = (replaced ? fresh : tasks).filter((t) => t.Status.State === 'running' && t.DesiredState === 'running' && (opts.publishMode !== 'host' || Object.keys(publishedPorts(t.Status.PortStatus?.Ports)).length >= portCount));
      // Done when Swarm also let go of the tasks it no longer wants (scaled down, or replaced): it does that a moment after the update.
      const wantedNow = tasks.filter((t) => t.DesiredState === 'running').length;
      if (up.length >= wanted && wantedNow <= wanted && state.running) return state;
      const stuck = fresh.find((t) => t.Status.Err && (t.Status.State === 'pending' || t.Status.State === 'rejected' || t.Status.State === 'failed'));
      if (stuck) throw new Error(`Swarm could not run ${id}: ${stuck.Status.Err}${stuck.Status.State === 'rejected' ? ' (a node could not start it: can every node pull from the registry?)' : ''}`);
      const update = (service as { UpdateStatus?: { State?: string; Message?: string } }).UpdateStatus;
      if (update?.State === 'paused' || update?.State?.startsWith('rollback')) throw new Error(`Swarm stopped the update of ${id}: ${update.Message ?? update.State}`);
      if (Date.now() > deadline) throw new Error(`${wanted} task(s) of ${id} were not running within ${RUN_TIMEOUT_MS / 1000} s (${up.length} were)`);
      await new Promise((r) => setTimeout(r, TASK_POLL_MS));
    }
  }

  const logDriver = (spec: ObjectSpec) => {
    const config = logConfigFor(logRoute, spec.workspaceId, spec.id);
    return config && { Name: config.type, Options: config.config };
  };

  let networks: Promise<unknown> = Promise.resolve();

  return {
    kind: 'swarm',
    spreadsReplicas: true,

    async start(context) {
      ctx = context;
      await local.start(context);
    },

    async ping() {
      await local.ping();
      const info = (await docker.info()) as { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } };
      if (info.Swarm?.LocalNodeState !== 'active') {
        throw new Error(
          `the Docker Engine at ${describeConnection(opts.docker)} is not part of a Swarm (state: ${info.Swarm?.LocalNodeState || 'inactive'}).\n` +
            '  Make one: `docker swarm init --advertise-addr <this machine\'s address>`, or point DOCKER_HOST / --docker at a manager of yours.',
        );
      }
      if (!info.Swarm.ControlAvailable) throw new Error(`the Docker Engine at ${describeConnection(opts.docker)} is a Swarm worker: point DOCKER_HOST / --docker at a manager (\`docker node ls\` on one lists them)`);
      await pingRegistry(opts.registry);
    },

    async info() {
      return { ...(await local.info()), kind: 'swarm' };
    },
    close: () => local.close(),

    ensureBaseImage: (onLine) => local.ensureBaseImage(onLine),
    ensurePythonImage: (onLine) => local.ensurePythonImage(onLine),
    pruneBaseImages: () => local.pruneBaseImages(),
    async buildImage(spec) {
      const built = await local.buildImage(spec);
      spec.onLine?.(`pushing ${registryRef(opts.registry, spec.tag)} so every node can run it`);
      await pushImage(docker, spec.tag, registryRef(opts.registry, spec.tag), spec.onLine);
      return built;
    },
    imageId: (ref) => local.imageId(ref),
    async removeImage(ref) {
      const pushed = registryRef(opts.registry, ref);
      if (pushed !== ref) {
        await deleteFromRegistry(pushed);
        await local.removeImage(pushed);
      }
      await local.removeImage(ref);
    },
    pruneImages: (listed) => local.pruneImages(listed),
    prepareWorkdir: (dir) => local.prepareWorkdir(dir),

    isolate(workspaceId) {
      const driver = { name: 'overlay' as const, attachable: true, ...(opts.encrypted && { options: { encrypted: '' } }) };
      const made = networks.then(() => ensureNetwork(docker, workspaceId, labels({ [LABEL.kind]: 'workspace', [LABEL.workspace]: workspaceId, [LABEL.object]: workspaceId }), pool, driver));
      networks = made.catch(() => {});
      return made;
    },
    async removeIsolation(workspaceId) {
      // A removed service's tasks leave the network as their containers stop, on every node.
      for (let attempt = 1; ; attempt++) {
        try {
          await removeNetwork(docker, workspaceId);
          break;
        } catch (err) {
          if (attempt >= 50 || !/in use|active endpoints/i.test((err as Error).message)) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      // The manager's own copy of an overlay network goes a moment after the Swarm's: done when it did.
      for (let i = 0; i < 50 && (await docker.listNetworks({ filters: JSON.stringify({ name: [workspaceId] }) })).some((n) => n.Name === workspaceId); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
    },

    async runObject(spec) {
      if (spec.gpus) throw new Error('GPUs are not mapped onto Swarm by this backend: place the object with a constraint (node.labels.gpu==true) and a Dockerfile that uses the node\'s devices');
      await docker.createService(
        {}, // no registry credentials: the nodes pull from `registry` as it is
        serviceSpec(spec, {
          image: registryRef(opts.registry, spec.image),
          labels: labels({ [LABEL.kind]: spec.kind, [LABEL.workspace]: spec.workspaceId, [LABEL.object]: spec.id }),
          network: spec.workspaceId,
          // The workspace's files are in the image, owned by this user (see the generated Dockerfile).
          user: `${OBJECT_UID}:${OBJECT_UID}`,
          publishMode: opts.publishMode,
          logDriver: logDriver(spec),
          constraints: spec.constraints ?? [],
          replicas: spec.replicas ?? 1,
          stopGraceS: STOP_GRACE_S,
        }),
      );
      return untilRunning(spec.id, spec.replicas ?? 1);
    },
    inspectObject,
    async startObject(id) {
      const now = await inspectObject(id);
      if (!now) return undefined;
      if (now.running) return now;
      const before = await taskIds(id);
      let wanted = 1;
      await updateService(id, (spec) => {
        // Stopped (scaled to 0): the tasks it had; failed for good: the tasks it wants.
        const replicas = Number(spec.Labels?.[REPLICAS_LABEL]) || spec.Mode?.Replicated?.Replicas || 1;
        delete spec.Labels?.[REPLICAS_LABEL];
        spec.Mode = { Replicated: { Replicas: replicas } };
        // A task that failed for good (on-failure's max) is not retried by Swarm: a forced update makes a new one.
        spec.TaskTemplate.ForceUpdate = (spec.TaskTemplate.ForceUpdate ?? 0) + 1;
        wanted = replicas;
      });
      return untilRunning(id, wanted, before);
    },
    async stopObject(id) {
      await updateService(id, (spec) => {
        const replicas = spec.Mode?.Replicated?.Replicas ?? 1;
        if (replicas > 0) spec.Labels = { ...spec.Labels, [REPLICAS_LABEL]: String(replicas) };
        spec.Mode = { Replicated: { Replicas: 0 } };
      });
    },
    async restartObject(id) {
      const service = await inspectService(id);
      if (!service) return undefined;
      const before = await taskIds(id);
      await updateService(id, (spec) => {
        spec.TaskTemplate.ForceUpdate = (spec.TaskTemplate.ForceUpdate ?? 0) + 1;
      });
      return untilRunning(id, service.Spec.Mode?.Replicated?.Replicas || 1, before);
    },
    removeObject: (id) => idempotent(() => docker.getService(id).remove()),
    async updateObject(id, change) {
      const before = await taskIds(id);
      let wanted = 1;
      await updateService(id, (spec) => {
        if (change.replicas !== undefined) spec.Mode = { Replicated: { Replicas: change.replicas } };
        wanted = spec.Mode?.Replicated?.Replicas ?? 1;
        if (change.env) {
          const env = new Map<string, string>((spec.TaskTemplate.ContainerSpec.Env ?? []).map((e: string) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
          for (const [k, v] of Object.entries(change.env)) env.set(k, v);
          spec.TaskTemplate.ContainerSpec.Env = [...env].map(([k, v]) => `${k}=${v}`);
        }
      });
      // A new environment replaces every task (start-first); more replicas add tasks beside the running ones.
      return untilRunning(id, wanted, before, !!change.env);
    },
    objectOutput: (id, tail) => readLogs(() => docker.getService(id).logs({ stdout: true, stderr: true, tail, follow: false }), outputLines),
    objectLogLines: (id, since) => readLogs(() => docker.getService(id).logs({ stdout: true, stderr: true, timestamps: true, follow: false, since: since ?? 0 }), timedLines),

    async objectStates() {
      const { services, tasks, byService } = await everything();
      const known = await nodesFor(tasks);
      return services.map((s) => stateOf(s, byService.get(s.ID) ?? [], known, { publishMode: opts.publishMode, reachHost }));
    },

    async listOwned(filter = {}): Promise<Owned> {
      const wanted = labels(filter.workspaceId ? { [LABEL.workspace]: filter.workspaceId } : {});
      const [services, nets, images] = await Promise.all([
        docker.listServices({ filters: labelFilter(wanted) }) as unknown as Promise<Service[]>,
        docker.listNetworks({ filters: labelFilter(wanted) }),
        filter.workspaceId || filter.images === false ? Promise.resolve([]) : docker.listImages({ filters: labelFilter(wanted) }),
      ]);
      return {
        objects: services.map((s) => ({ ref: s.ID, id: s.Spec?.Name ?? '', kind: s.Spec?.Labels?.[LABEL.kind] ?? '', workspaceId: s.Spec?.Labels?.[LABEL.workspace] ?? '' })),
        isolations: nets.map((n) => ({ ref: n.Id, workspaceId: n.Labels?.[LABEL.workspace] ?? n.Name })),
        images: images.map((i) => ({ ref: i.Id, tags: i.RepoTags ?? [], kind: i.Labels?.[LABEL.kind] ?? '' })),
      };
    },

    /** Object events from the tasks of the whole Swarm, read once a second: a new running task is a start, its end a die, a gone service a destroy. */
    async watch(fn, onEnd) {
      const seen = new Map<string, { running?: string; kind: string; workspaceId: string }>();
      const emit = (action: string, id: string, was: { kind: string; workspaceId: string }, exitCode?: number) => fn({ action, id, kind: was.kind, workspaceId: was.workspaceId, ...(exitCode !== undefined && { exitCode }) } as ObjectEvent);
      const read = async () => {
        const { services, byService } = await everything();
        const now = new Set<string>();
        for (const s of services) {
          const id = s.Spec?.Name ?? '';
          now.add(id);
          const mine = byService.get(s.ID) ?? [];
          const running = mine.filter((t) => t.Status.State === 'running' && t.DesiredState === 'running').map((t) => t.ID).sort()[0];
          const info = { running, kind: s.Spec?.Labels?.[LABEL.kind] ?? '', workspaceId: s.Spec?.Labels?.[LABEL.workspace] ?? '' };
          const before = seen.get(id);
          seen.set(id, info);
          if (!before) continue; // first sight: its state is read by the caller's sync
          if (before.running && !mine.some((t) => t.ID === before.running && t.Status.State === 'running')) {
            const ended = mine.find((t) => t.ID === before.running);
            emit('die', id, info, ended?.Status.ContainerStatus?.ExitCode);
          }
          if (running && running !== before.running) emit('start', id, info);
        }
        for (const [id, was] of seen) {
          if (!now.has(id)) {
            seen.delete(id);
            emit('destroy', id, was);
          }
        }
      };
      await read();
      let stopped = false;
      let timer: NodeJS.Timeout | undefined;
      const tick = () => {
        timer = setTimeout(() => {
          read().then(
            () => !stopped && tick(),
            () => {
              if (!stopped) onEnd?.(); // the manager went away: the caller reconnects
              stopped = true;
            },
          );
        }, POLL_MS);
        timer.unref();
      };
      tick();
      return () => {
        stopped = true;
        clearTimeout(timer);
      };
    },
    routeLogs(route) {
      // Nodes send over the network: to the address they see the receiver at.
      logRoute = route && { address: opts.logAddress ?? route.network ?? route.address };
    },
    // Every node's engine sends its tasks' output from its own address.
    logSenders: async () => (await docker.listNodes()).map((n) => n.Status?.Addr ?? '').filter(Boolean),
  };
}
