/**
 * The Docker Engine connection and what every part of the Docker backend shares: connection
 * options, the label filter, and error statuses. Idempotent removal counts 304 and 404 as done.
 */
import Docker from 'dockerode';
import type { Labels } from './labels.ts';

export type Engine = Docker;

/** `unix:///path`, `/path`, `tcp://host:port`, `http(s)://host:port` → dockerode options. */
export function dockerOptions(conn?: string): Docker.DockerOptions {
  if (!conn) return { socketPath: '/var/run/docker.sock' };
  if (conn.startsWith('unix://')) return { socketPath: conn.slice('unix://'.length) };
  if (conn.startsWith('/')) return { socketPath: conn };
  const url = new URL(conn.replace(/^tcp:/, 'http:'));
  return { host: url.hostname, port: Number(url.port || 2375), protocol: url.protocol === 'https:' ? 'https' : 'http' };
}

/** Where the engine is, for messages: a socket path or host:port. */
export function describeConnection(conn?: string): string {
  const o = dockerOptions(conn);
  return o.socketPath ?? `${o.host}:${o.port}`;
}

export function connect(conn?: string): Engine {
  return new Docker(dockerOptions(conn));
}

export const statusOf = (err: unknown) => (err as { statusCode?: number })?.statusCode;

export const labelFilter = (labels: Labels) => JSON.stringify({ label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) });

/** Run a removal; "gone already" (404) and the given other statuses count as done. */
export async function idempotent(fn: () => Promise<unknown>, alsoDone: number[] = []): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const s = statusOf(err);
    if (s !== 404 && !alsoDone.includes(s ?? -1)) throw err;
  }
}
