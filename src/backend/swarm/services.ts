/**
 * Swarm's nouns: an object is a service (named after its id, labelled as a container would be),
 * its live state comes from the service's tasks. Docker's words stay here; index.ts maps an
 * ObjectSpec onto a service spec.
 */
import type { Engine } from '../docker/engine.ts';
import type { ObjectSpec, ObjectState, TaskState } from '../types.ts';
import { LABEL, type Labels } from '../docker/labels.ts';

/** How published ports are reached: on the node that runs the task (`host`), or on every node through the routing mesh (`ingress`: needs IPVS in the kernel). */
export type PublishMode = 'host' | 'ingress';

export interface ServiceOptions {
  image: string;
  labels: Labels;
  network: string;
  user: string;
  publishMode: PublishMode;
  logDriver?: { Name: string; Options: Record<string, string> };
  /** `node.labels.gpu==true`, …: where its tasks may run. */
  constraints: string[];
  /** Tasks of the service (default 1). */
  replicas: number;
  /** Seconds a stopped task has to close its executors before it is killed. */
  stopGraceS: number;
}

const restartPolicyOf = (r: ObjectSpec['restart']) =>
  !r || r.name === 'no'
    ? { Condition: 'none' }
    : r.name === 'always'
      ? { Condition: 'any', Delay: 100_000_000 }
      : { Condition: 'on-failure', Delay: 100_000_000, ...(r.max && { MaxAttempts: r.max }) };

/** A service spec for an object (also the body of an update, with the version it replaces). */
/** The engine's service spec (dockerode's type, through the Docker backend's one import of it). */
type ServiceSpec = Parameters<Engine['createService']>[1];

export function serviceSpec(spec: ObjectSpec, o: ServiceOptions): ServiceSpec {
  const { memory, cpus, pids } = spec.resources;
  return {
    Name: spec.id,
    Labels: o.labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: o.image,
        Command: spec.command,
        Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
        Labels: o.labels,
        Dir: '/workspace',
        User: o.user,
        // An init as PID 1 forwards signals; no capabilities, as on the Docker backend.
        Init: true,
        CapabilityDrop: ['ALL'],
        StopGracePeriod: o.stopGraceS * 1e9,
      },
      Resources: {
        Limits: {
          ...(memory !== undefined && { MemoryBytes: memory }),
          ...(cpus !== undefined && { NanoCPUs: Math.round(cpus * 1e9) }),
          ...(pids !== undefined && { Pids: pids }),
        },
      },
      RestartPolicy: restartPolicyOf(spec.restart),
      Placement: { Constraints: o.constraints },
      Networks: [{ Target: o.network }],
      ...(o.logDriver && { LogDriver: o.logDriver }),
    },
    Mode: { Replicated: { Replicas: o.replicas } },
    // New tasks start before old ones stop: a rolling change never leaves no task answering.
    UpdateConfig: { Parallelism: 1, Order: 'start-first', FailureAction: 'pause' },
    // dnsrr: no virtual IP, which needs IPVS; with ingress publishing Swarm requires its VIP.
    EndpointSpec: {
      Mode: o.publishMode === 'ingress' ? 'vip' : 'dnsrr',
      Ports: spec.ports.map((p) => ({ Protocol: 'tcp', TargetPort: p.container, ...(p.host && { PublishedPort: p.host }), PublishMode: o.publishMode })),
    },
  } as ServiceSpec;
}

/** A task, as listTasks gives it (the fields used here). */
export interface Task {
  ID: string;
  ServiceID: string;
  NodeID?: string;
  Slot?: number;
  CreatedAt?: string;
  DesiredState: string;
  Labels?: Labels;
  Spec?: { ContainerSpec?: { Labels?: Labels } };
  Status: {
    Timestamp?: string;
    State: string;
    Err?: string;
    Message?: string;
    ContainerStatus?: { ContainerID?: string; ExitCode?: number };
    PortStatus?: { Ports?: { TargetPort?: number; PublishedPort?: number; Protocol?: string }[] };
  };
}

export interface Service {
  ID: string;
  Spec?: { Name?: string; Labels?: Labels; Mode?: { Replicated?: { Replicas?: number } } };
  Endpoint?: { Ports?: { TargetPort?: number; PublishedPort?: number; Protocol?: string }[] };
}

/**
 * `"<port inside>/tcp"` → the published port. A dynamic host-mode port can be two: Docker picks
 * one for IPv4 and another for IPv6, listed in that order (seen on 20.10); node addresses here are
 * IPv4, so the first one is kept.
 */
export function publishedPorts(list: { TargetPort?: number; PublishedPort?: number; Protocol?: string }[] | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of list ?? []) {
    const key = `${p.TargetPort}/${p.Protocol ?? 'tcp'}`;
    if (p.PublishedPort && !(key in out)) out[key] = p.PublishedPort;
  }
  return out;
}

/** Node id → its hostname and the address its published ports are reached at. */
export type Nodes = Map<string, { name: string; addr: string }>;

/** Task states on the way to running. */
const STARTING = new Set(['new', 'pending', 'assigned', 'accepted', 'ready', 'preparing', 'starting']);

/**
 * The object's state from its service and tasks: running while a task of it runs (ports and
 * address: of that task's node, in host mode), `restarting` while Swarm brings a new one up,
 * else `exited` with the last task's exit code.
 */
export function stateOf(service: Service, tasks: Task[], nodes: Nodes, opts: { publishMode: PublishMode; reachHost: string }): ObjectState {
  const labels = service.Spec?.Labels ?? {};
  const newest = [...tasks].sort((a, b) => (b.Status.Timestamp ?? '').localeCompare(a.Status.Timestamp ?? ''));
  const running = newest.filter((t) => t.Status.State === 'running' && t.DesiredState === 'running').sort((a, b) => (a.Slot ?? 0) - (b.Slot ?? 0));
  const current = running[0];
  const wanted = service.Spec?.Mode?.Replicated?.Replicas ?? 1;
  const starting = newest.some((t) => t.DesiredState === 'running' && STARTING.has(t.Status.State));
  const last = current ?? newest[0];
  const ports: Record<string, number> = {};
  if (current) Object.assign(ports, publishedPorts(opts.publishMode === 'host' ? current.Status.PortStatus?.Ports : service.Endpoint?.Ports));
  const node = current?.NodeID ? nodes.get(current.NodeID) : undefined;
  return {
    id: service.Spec?.Name ?? '',
    ref: service.ID,
    kind: labels[LABEL.kind] ?? '',
    workspaceId: labels[LABEL.workspace] ?? '',
    status: current ? 'running' : starting && wanted > 0 ? 'restarting' : 'exited',
    running: !!current,
    exitCode: last?.Status.ContainerStatus?.ExitCode ?? 0,
    oomKilled: false, // a task's status does not say why it was killed
    startedAt: current?.Status.Timestamp ?? last?.CreatedAt ?? '',
    ports,
    host: opts.publishMode === 'host' && node ? node.addr : opts.reachHost,
    tasks: tasksOf(tasks, nodes, opts.publishMode),
  };
}

/** The tasks Swarm wants running (and the failures among the latest of each slot), for the item. */
function tasksOf(tasks: Task[], nodes: Nodes, publishMode: PublishMode): TaskState[] {
  const bySlot = new Map<number, Task[]>();
  for (const t of tasks) {
    if (!bySlot.has(t.Slot ?? 0)) bySlot.set(t.Slot ?? 0, []);
    bySlot.get(t.Slot ?? 0)!.push(t);
  }
  const out: TaskState[] = [];
  for (const [slot, history] of [...bySlot].sort(([a], [b]) => a - b)) {
    history.sort((a, b) => (b.CreatedAt ?? '').localeCompare(a.CreatedAt ?? ''));
    const t = history[0]!;
    if (t.DesiredState !== 'running' && t.Status.State !== 'failed' && t.Status.State !== 'rejected') continue;
    const node = t.NodeID ? nodes.get(t.NodeID) : undefined;
    const published = publishMode === 'host' ? publishedPorts(t.Status.PortStatus?.Ports) : {};
    out.push({
      slot,
      node: node?.name ?? t.NodeID ?? '',
      address: node?.addr ?? '',
      state: t.Status.State,
      ...(t.Status.Err && { error: t.Status.Err }),
      ports: published,
      // Earlier tasks of the slot that ended on their own (not replaced by an update).
      restarts: history.slice(1).filter((h) => h.Status.State === 'failed' || h.Status.State === 'complete').length,
    });
  }
  return out;
}
