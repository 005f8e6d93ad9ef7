/** The logs plugin's config slice: `logs: {...}` in jinad.config.ts, JINAD_LOGS_<KEY>, --logs-<key>. */
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { v } from 'jinad/plugin';

const Port = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535));
const Positive = v.pipe(v.number(), v.integer(), v.minValue(1));

export const LogsOptionsSchema = v.strictObject({
  /**
   * The receiver's Unix socket, in a folder only the daemon's user may open; the engine sends
   * objects' output there. Default: `<root>/.run/logs.sock` (a short path under /tmp if that is
   * too long for a socket's name).
   */
  socket: v.optional(v.pipe(v.string(), v.minLength(1))),
  /**
   * Where the TCP receiver listens, only when objects' output comes over the network (the Swarm
   * backend: its nodes send here, or to `backend.logAddress`); it takes records from the
   * Swarm's nodes alone.
   */
  host: v.optional(v.string(), '127.0.0.1'),
  /** Stable across restarts: objects keep the address they were created with. */
  port: v.optional(Port, 24224),
  /** An external Fluentd (`tcp://host:port`): output goes there, the daemon reads it back through the backend. */
  fluentd: v.optional(v.pipe(v.string(), v.regex(/^tcp:\/\/[^:/]+:\d+$/, 'expected tcp://host:port'))),
  /** The receiver closes a connection idle this long (Docker's driver reconnects when the object logs again). */
  idleMs: v.optional(Positive, 60_000),
  /** The receiver refuses connections beyond this many. */
  maxConnections: v.optional(Positive, 1024),
  /** A forward-protocol message over this many bytes is refused (Docker's driver sends lines in 16 KiB parts). */
  maxMessageBytes: v.optional(Positive, 8 << 20),
  /** A line longer than this (its parts joined) is cut here, with a marker saying how long it was. */
  maxLineBytes: v.optional(Positive, 256 << 10),
  /** Lines one object may log per second, on average (bursts of five seconds' worth pass); over it, lines are counted, not kept, and the log says how many. */
  linesPerSecond: v.optional(Positive, 20_000),
  /** Streams send a heartbeat this often so idle proxies keep them open. */
  heartbeatMs: v.optional(Positive, 15_000),
});
export type LogsOptions = v.InferOutput<typeof LogsOptionsSchema>;

/** The longest a Unix socket's path may be (108 bytes with its terminating zero on Linux). */
const MAX_SOCKET_PATH = 100;

/** The receiver's socket: under the daemon's root, or, where that path is too long for a socket, a folder of this user under /tmp. */
export function socketPathFor(root: string): string {
  const file = path.join(path.resolve(root), '.run', 'logs.sock');
  if (Buffer.byteLength(file) <= MAX_SOCKET_PATH) return file;
  const uid = process.getuid?.() ?? 0;
  return path.join(tmpdir(), `jinad-${uid}-${createHash('sha1').update(path.resolve(root)).digest('hex').slice(0, 12)}`, 'logs.sock');
}
