/** The logs plugin's config slice: `logs: {...}` in jinad.config.ts, JINAD_LOGS_<KEY>, --logs-<key>. */
import { v } from 'jinad/plugin';

const Port = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535));

export const LogsOptionsSchema = v.strictObject({
  /** Where the receiver listens; the backend sends objects' output there. */
  host: v.optional(v.string(), '127.0.0.1'),
  /** Stable across restarts: objects keep the address they were created with. */
  port: v.optional(Port, 24224),
  /** An external Fluentd (`tcp://host:port`): output goes there, the daemon reads it back through the backend. */
  fluentd: v.optional(v.pipe(v.string(), v.regex(/^tcp:\/\/[^:/]+:\d+$/, 'expected tcp://host:port'))),
  /** The receiver closes a connection idle this long (Docker's driver reconnects when the object logs again). */
  idleMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 60_000),
  /** The receiver refuses connections beyond this many. */
  maxConnections: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 1024),
  /** Streams send a heartbeat this often so idle proxies keep them open. */
  heartbeatMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 15_000),
});
export type LogsOptions = v.InferOutput<typeof LogsOptionsSchema>;
