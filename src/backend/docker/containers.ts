/**
 * Containers: run (with an init, so stop takes milliseconds), inspect, remove, and read what
 * they wrote. Docker's nouns stay here; index.ts maps an ObjectSpec onto a ContainerSpec.
 */
import type { Resources } from '../../contract/resources.ts';
import type { RestartPolicy } from '../../contract/restart.ts';
import type { GpuRequest, OutputLine } from '../types.ts';
import { type Engine, idempotent, statusOf } from './engine.ts';
import { directPortsOf } from './labels.ts';
import type { Labels } from './labels.ts';

export interface ContainerSpec {
  name: string;
  image: string;
  network?: string;
  entrypoint?: string[];
  env?: Record<string, string>;
  /** `hostPath:containerPath[:ro]` */
  binds?: string[];
  workdir?: string;
  ports?: { container: number; host?: number }[];
  publishHost: string;
  labels: Labels;
  /** GPU device requests; retried without them when the engine has no GPU driver. */
  gpus?: GpuRequest;
  /** Docker log driver (`fluentd`, …) and its options. */
  logConfig?: { type: string; config: Record<string, string> };
  /** `uid:gid` the process runs as; default: the image's user. */
  user?: string;
  /** No capabilities, no gaining privileges (objects: always; the daemon's own container in tests: not). */
  hardened?: boolean;
  resources?: Resources;
  /** The engine starts it again when it exits, per this policy. */
  restart?: RestartPolicy;
}

export interface ContainerState {
  id: string;
  name: string;
  status: string;
  exitCode: number;
  running: boolean;
  oomKilled: boolean;
  startedAt: string;
  ports: Record<string, number>;
  labels: Labels;
}

/**
 * The frames of a multiplexed log buffer (`Tty: false`): an 8-byte header (stream 1 = stdout,
 * 2 = stderr; big-endian length) before each chunk. A buffer without headers is one stdout frame.
 */
function* logFrames(buf: Buffer): Generator<{ stream: 'stdout' | 'stderr'; text: string }> {
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

export async function inspectContainer(docker: Engine, name: string): Promise<ContainerState | undefined> {
  try {
    const info = await docker.getContainer(name).inspect();
    const ports: Record<string, number> = directPortsOf(info.Config.Labels);
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
      oomKilled: info.State.OOMKilled === true,
      startedAt: info.State.StartedAt,
      ports,
      labels: info.Config.Labels ?? {},
    };
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

/** Stop and remove; 404 (gone) and 409 (removal already in progress) count as done. */
export const removeContainer = (docker: Engine, name: string) => idempotent(() => docker.getContainer(name).remove({ force: true, v: true }), [409]);

export async function runContainer(docker: Engine, spec: ContainerSpec): Promise<ContainerState> {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of spec.ports ?? []) {
    exposed[`${p.container}/tcp`] = {};
    bindings[`${p.container}/tcp`] = [{ HostIp: spec.publishHost, HostPort: p.host ? String(p.host) : '' }];
  }
  const deviceRequests = spec.gpus
    ? [{ Driver: '', Count: spec.gpus.deviceIds ? 0 : (spec.gpus.count ?? -1), DeviceIDs: spec.gpus.deviceIds, Capabilities: [['gpu']] }]
    : undefined;
  const { memory, cpus, pids } = spec.resources ?? {};
  const create = (withGpus: boolean) =>
    docker.createContainer({
      name: spec.name,
      Image: spec.image,
      User: spec.user,
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
        // Hardened: no capabilities (ports below 1024 need none: Docker lets any user bind them
        // inside a container), no gaining privileges through setuid files, bounded processes.
        CapDrop: spec.hardened ? ['ALL'] : undefined,
        SecurityOpt: spec.hardened ? ['no-new-privileges:true'] : undefined,
        PidsLimit: pids,
        // No swap beyond the limit: going over it is an OOM kill, reported as such.
        Memory: memory,
        MemorySwap: memory,
        NanoCpus: cpus === undefined ? undefined : Math.round(cpus * 1e9),
        RestartPolicy: spec.restart ? { Name: spec.restart.name, MaximumRetryCount: spec.restart.max ?? 0 } : undefined,
      },
    });
  let container = await create(true);
  try {
    await container.start();
  } catch (err) {
    await removeContainer(docker, spec.name);
    if (!deviceRequests || !/could not select device driver/i.test(String((err as Error).message))) throw err;
    container = await create(false);
    try {
      await container.start();
    } catch (err2) {
      await removeContainer(docker, spec.name);
      throw err2;
    }
  }
  const state = await inspectContainer(docker, container.id);
  if (!state) throw new Error(`container ${spec.name} vanished right after it started`);
  return state;
}

/** The last lines a container wrote (stdout and stderr). */
export const containerOutput = (docker: Engine, name: string, tail: number): Promise<string[]> =>
  readLogs(() => docker.getContainer(name).logs({ stdout: true, stderr: true, tail, follow: false }), outputLines);

/** Lines with their times and streams, after `since` (unix seconds). */
export const containerLogLines = (docker: Engine, name: string, since?: number): Promise<OutputLine[]> =>
  readLogs(() => docker.getContainer(name).logs({ stdout: true, stderr: true, timestamps: true, follow: false, since: since ?? 0 }), timedLines);

/** Read a log buffer (a container's or a Swarm service's) and parse it; nothing when its owner is gone (404). */
export async function readLogs<T>(read: () => Promise<unknown>, parse: (buf: Buffer) => T[]): Promise<T[]> {
  try {
    return parse((await read()) as Buffer);
  } catch (err) {
    if (statusOf(err) === 404) return [];
    throw err;
  }
}

/** A log buffer's lines (a container's or a Swarm service's). */
export const outputLines = (buf: Buffer): string[] => [...logFrames(buf)].map((f) => f.text).join('').split('\n').filter((l) => l.length > 0);

/** A log buffer read with `timestamps`: each line with its time and stream. */
export function timedLines(buf: Buffer): OutputLine[] {
  const out: OutputLine[] = [];
  for (const { stream, text } of logFrames(buf)) {
    for (const line of text.split('\n')) {
      if (!line) continue;
      const sp = line.indexOf(' ');
      out.push({ time: line.slice(0, sp), stream, message: line.slice(sp + 1) });
    }
  }
  return out;
}
