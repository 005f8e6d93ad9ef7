/**
 * Direct ports: a port that a container's own main process listens on (a Flow's gateway) is
 * bound here, in the host's network namespace, and its listening socket is handed to the
 * container, whose process then accepts the clients itself. No proxy sits in between: Docker's
 * userland proxy is one more process copying every byte, and a Flow behind it served 0.91–0.98×
 * the documents per second of the same Flow run locally, where a handed socket gives 1.14–1.31×
 * (docs/benchmarks.md §5).
 *
 * The socket travels over a Unix socket in a folder bind-mounted into the container
 * (`/run/jinad-handoff/handoff.sock`). Node passes sockets only over its IPC channels, so a
 * short-lived helper (this daemon's own node, with the container's connection as its channel,
 * the listening sockets as its inherited fds) sends them; the receiving side is
 * src/runtime/handed-ports.ts. The container asks each time it starts (an engine restart too):
 * the ports are bound again then (a stopped container's sockets closed with it), and the daemon
 * closes its own copies once they are handed, so a port the container's process does not
 * listen on refuses connections promptly, and a port of a container that is gone is free.
 *
 * Only for a local engine with this daemon on the host (a socket bound in a container's network
 * namespace would be useless to the engine's host), under Node; elsewhere ports are published.
 */
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from '../../logger.ts';
import type { ContainerSpec } from './containers.ts';
import { DIRECT_PORTS_LABEL } from './labels.ts';

/** Where the folder is mounted in the container, and the socket in it (the runtime's JINAD_HANDOFF). */
const MOUNT = '/run/jinad-handoff';
const SOCKET = 'handoff.sock';
/** The container's process has this long to take the sockets. */
const HANDOFF_TIMEOUT_MS = 15_000;

/**
 * The helper: the inherited listening sockets (fd 4 on) sent one by one over its channel (fd 3,
 * the container's connection), then an end marker; it exits once the container hangs up.
 */
const HELPER = `
const net = require('node:net');
const ports = JSON.parse(process.argv[1]);
const servers = ports.map((port) => ({ port, server: net.createServer() }));
let listening = 0;
for (const [i, s] of servers.entries()) s.server.listen({ fd: 4 + i }, () => ++listening === servers.length && sendAll());
function sendAll() {
  for (const { port, server } of servers) process.send({ port }, server);
  process.send({ end: true });
}
process.on('disconnect', () => process.exit(0));
`;

interface Entry {
  /** Container port → host port. */
  ports: Map<number, number>;
  broker: net.Server;
  dir: string;
}

export interface Handoff {
  /** Bind `name`'s direct ports (a host port of 0: one picked now), wait for its container to ask, and say so in the spec: the folder bound, its env and label; those ports no longer published. */
  open(spec: ContainerSpec, direct: { container: number; host?: number }[]): Promise<ContainerSpec>;
  /** A container from an earlier daemon: be there again when it asks (it does on each start). */
  adopt(name: string, ports: Record<string, number>): Promise<void>;
  close(name: string): void;
  closeAll(): void;
}

const bind = (host: string, port: number) =>
  new Promise<net.Server>((resolve, reject) => {
    // Until the container has it, a connection is refused at once rather than left waiting.
    const server = net.createServer((c) => c.destroy());
    server.once('error', reject);
    server.listen({ host, port }, () => resolve(server));
  });

/** `onHost`: a daemon-side folder as the engine's host names it (for the bind mount). */
export function createHandoff(opts: { root: string; publishHost: string; owner: { uid: number; gid: number }; onHost: (dir: string) => string; log: () => Logger }): Handoff {
  const entries = new Map<string, Entry>();

  /** The container asked: bind its ports, have the helper hand them, close ours. */
  async function hand(name: string, e: Entry, conn: net.Socket): Promise<void> {
    const pairs = [...e.ports];
    const servers: net.Server[] = [];
    try {
      for (const [, host] of pairs) servers.push(await bind(opts.publishHost, host));
      const fds = servers.map((s) => (s as unknown as { _handle: { fd: number } })._handle.fd);
      const helper = spawn(process.execPath, ['-e', HELPER, JSON.stringify(pairs.map(([c]) => c))], {
        stdio: ['ignore', 'ignore', 'pipe', conn, ...fds],
        env: { NODE_CHANNEL_FD: '3', NODE_CHANNEL_SERIALIZATION_MODE: 'json' },
      });
      let stderr = '';
      helper.stderr!.on('data', (d) => (stderr += String(d)));
      const timer = setTimeout(() => helper.kill('SIGKILL'), HANDOFF_TIMEOUT_MS);
      const code = await new Promise<number | null>((resolve) => helper.on('exit', resolve));
      clearTimeout(timer);
      if (code !== 0) throw new Error(`the helper exited with ${code}${stderr ? `: ${stderr.trim()}` : ''}`);
    } catch (err) {
      opts.log().warn(`${name}: its ports could not be handed over (${(err as Error).message}); it asks again when it starts`);
    } finally {
      for (const s of servers) s.close();
      conn.destroy();
    }
  }

  async function listenFor(name: string, ports: Map<number, number>): Promise<Entry> {
    // An earlier one first: closing a Unix server removes its socket file, which is this path.
    entries.get(name)?.broker.close();
    const dir = path.join(opts.root, 'handoff', name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const sock = path.join(dir, SOCKET);
    const e: Entry = { ports, dir, broker: net.createServer() };
    e.broker.on('connection', (conn) => void hand(name, e, conn));
    await new Promise<void>((resolve, reject) => {
      e.broker.once('error', reject);
      e.broker.listen(sock, () => resolve());
    });
    if (process.getuid?.() === 0) {
      chownSync(dir, opts.owner.uid, opts.owner.gid);
      chownSync(sock, opts.owner.uid, opts.owner.gid);
    }
    chmodSync(sock, 0o600);
    entries.set(name, e);
    return e;
  }

  return {
    async open(spec, direct) {
      // Bound now to learn the numbers the backend picks (and to fail as `docker run` would on a
      // port in use); closed again, and bound anew when the container asks.
      const ports = new Map<number, number>();
      for (const p of direct) {
        const s = await bind(opts.publishHost, p.host ?? 0).catch((err: Error) => {
          throw new Error(`port ${opts.publishHost}:${p.host ?? 0} cannot be published: ${err.message}`);
        });
        ports.set(p.container, (s.address() as net.AddressInfo).port);
        s.close();
      }
      const e = await listenFor(spec.name, ports);
      const inside = new Set(direct.map((p) => p.container));
      return {
        ...spec,
        ports: spec.ports?.filter((p) => !inside.has(p.container)),
        binds: [...(spec.binds ?? []), `${opts.onHost(e.dir)}:${MOUNT}`],
        env: { ...spec.env, JINAD_HANDOFF: `${MOUNT}/${SOCKET}` },
        labels: { ...spec.labels, [DIRECT_PORTS_LABEL]: JSON.stringify(Object.fromEntries([...ports].map(([c, h]) => [`${c}/tcp`, h]))) },
      };
    },
    async adopt(name, ports) {
      const map = new Map(Object.entries(ports).map(([k, h]) => [Number.parseInt(k, 10), h]));
      if (map.size) await listenFor(name, map);
    },
    close(name) {
      const e = entries.get(name);
      if (!e) return;
      entries.delete(name);
      e.broker.close();
      rmSync(e.dir, { recursive: true, force: true });
    },
    closeAll() {
      for (const e of entries.values()) e.broker.close();
      entries.clear();
    },
  };
}
