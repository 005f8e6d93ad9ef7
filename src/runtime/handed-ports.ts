/**
 * Listening sockets the daemon hands to this container (src/backend/docker/handoff.ts): bound
 * in the host's network namespace, so a client of a published port reaches this process with
 * no proxy in between. `JINAD_HANDOFF` names the Unix socket to ask at; without it (locally, or
 * a backend that publishes ports) nothing is handed and listeners bind as usual.
 *
 * Node receives sockets only over an IPC channel: the connection is made the process's channel
 * (what Node does at start for a `NODE_CHANNEL_FD` it is given), used for this one exchange,
 * then closed. The container's main process has no other channel (it is not forked by a Node
 * parent), so `process.send` is free for this.
 */
import childProcess from 'node:child_process';
import net from 'node:net';

const RETRY_MS = 250;

let handed: Promise<Map<number, net.Server>> | undefined;
/** The connection whose fd became the channel: kept so that it is never collected or read. */
let asked: net.Socket | undefined;

function connectOnce(path: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(path);
    s.pause(); // never read through this handle: the channel reads the fd
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

async function receive(path: string, log: (line: string) => void): Promise<Map<number, net.Server>> {
  let said = false;
  for (;;) {
    try {
      asked = await connectOnce(path);
      break;
    } catch (err) {
      // The daemon is away (restarting): its ports are its to give, so wait for it.
      if (!said) log(`waiting for the daemon to hand over this container's ports (${(err as Error).message})`);
      said = true;
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }
  const fd = (asked as unknown as { _handle: { fd: number } })._handle.fd;
  (childProcess as unknown as { _forkChild(fd: number, mode: string): void })._forkChild(fd, 'json');
  const servers = new Map<number, net.Server>();
  await new Promise<void>((resolve, reject) => {
    const onMessage = (m: { port?: number; end?: boolean }, server?: net.Server) => {
      if (typeof m?.port === 'number' && server) {
        server.removeAllListeners('connection');
        server.on('connection', (c: net.Socket) => c.destroy()); // nobody listens on it yet
        servers.set(m.port, server);
      }
      if (m?.end) {
        process.off('message', onMessage);
        process.disconnect();
        resolve();
      }
    };
    process.on('message', onMessage);
    process.once('disconnect', () => resolve()); // the helper gave up: what came is what there is
    process.once('error', reject);
  });
  return servers;
}

/** Ask for this container's ports (at start, so the exchange overlaps loading the runtime). */
export function receiveHandedPorts(log: (line: string) => void): void {
  const path = process.env.JINAD_HANDOFF;
  delete process.env.JINAD_HANDOFF; // not the executors' business
  if (path && !handed) handed = receive(path, log);
}

/** The listening socket handed over for container port `port`, if any: a listener adopts it (`server.listen(handed)`). */
export async function handedPort(port: number): Promise<net.Server | undefined> {
  if (!handed) return undefined;
  const servers = await handed;
  const s = servers.get(port);
  servers.delete(port); // one listener each
  return s;
}
