/**
 * `GET /logs/{id}`: the log file of a workspace (its build) or of a Flow/Pod/Pea; with
 * `follow=true&tail=N&since=T`, NDJSON over chunked HTTP: the tail, then new lines.
 * `WS /logstream/{id}?timeout=&tail=`: the recent tail, then new lines, pings as heartbeats;
 * closed with a reason when the object is deleted or `timeout` seconds pass without a line.
 * A stream for an object that has not logged yet waits for its first line.
 */
import { existsSync, readFileSync } from 'node:fs';
import { upgradeWebSocket } from '@hono/node-server';
import { stream } from 'hono/streaming';
import { describe, fail, FellBehindError, invalid, type KindRegistry, MalformedIdError, normalizeTime, parseDaemonId, type PluginApi, v, validate } from 'jinad/plugin';
import type { Collector } from './collector.ts';
import type { LogsOptions } from './options.ts';
import { logTargets, type Target } from './targets.ts';

/** An id of any kind a plugin owns (`jworkspace-…`, `jflow-…`, a kind a plugin adds); the output is the normalised id. */
const logId = (kinds: KindRegistry) =>
  v.pipe(
    v.string(),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      try {
        const { id, jtype } = parseDaemonId(dataset.value);
        if (!kinds.has(jtype.slice(1)) || !dataset.value.includes('-')) {
          throw new MalformedIdError(`'${dataset.value}' is not the id of a ${kinds.kinds().join(', ')}`);
        }
        return id;
      } catch (err) {
        if (!(err instanceof MalformedIdError)) throw err;
        addIssue({ message: err.message });
        return NEVER;
      }
    }),
  );
const Tail = v.optional(v.pipe(v.string(), v.regex(/^\d+$/, 'tail must be a number of lines'), v.transform(Number)));
const Since = v.optional(
  v.pipe(
    v.string(),
    v.check((s) => {
      try {
        normalizeTime(s);
        return true;
      } catch {
        return false;
      }
    }, 'since must be an ISO 8601 time'),
    v.transform(normalizeTime),
  ),
);
const LogsQuery = v.object({ follow: v.optional(v.picklist(['true', 'false', '1', '0'])), tail: Tail, since: Since });
const StreamQuery = v.object({ timeout: v.optional(v.pipe(v.string(), v.regex(/^\d+$/, 'timeout must be seconds'), v.transform(Number))), tail: Tail });

/** What a WebSocket client may leave unread before its lines wait in the follower's queue (where `maxLag` ends it). */
const WS_BUFFERED_MAX = 8 << 20;

/** Text frames (RFC 6455 §5.2: FIN, opcode 1, unmasked as a server's are), one per line, in one buffer. */
export function textFrames(lines: string[]): Buffer {
  let size = 0;
  const lengths = lines.map((line) => {
    const n = Buffer.byteLength(line);
    size += n + (n < 126 ? 2 : n < 65_536 ? 4 : 10);
    return n;
  });
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  lines.forEach((line, i) => {
    const n = lengths[i]!;
    out[at++] = 0x81;
    if (n < 126) out[at++] = n;
    else if (n < 65_536) {
      out[at++] = 126;
      at = out.writeUInt16BE(n, at);
    } else {
      out[at++] = 127;
      at = out.writeBigUInt64BE(BigInt(n), at);
    }
    at += out.write(line, at, 'utf8');
  });
  return out;
}

interface RawWebSocket {
  readyState: number;
  bufferedAmount: number;
  _extensions?: Record<string, unknown>;
  _socket?: { write(b: Buffer): boolean; once(e: 'drain' | 'close', f: () => void): void };
}

/**
 * Send a batch of lines as one WebSocket message each, their frames made here in one buffer
 * and written at once (ws's send per line cost ~5 µs a line in a burst: a header and a copy
 * each, two chunks of a writev). Only where frames go out as they are: with a compression
 * extension negotiated, ws frames them. Resolves once the client has read enough of what it
 * was sent.
 */
async function sendBatch(ws: { send(line: string): void; raw?: unknown }, lines: string[]): Promise<void> {
  const raw = ws.raw as RawWebSocket | undefined;
  const socket = raw?._socket;
  if (!raw || !socket || raw._extensions?.['permessage-deflate']) {
    for (const line of lines) ws.send(line);
    return;
  }
  if (raw.readyState !== 1) return; // closing: ws sends nothing more either
  // ws writes a server's uncompressed frames to the socket at once, as these are: pings and the
  // closing frame it sends stay in order with them.
  socket.write(textFrames(lines));
  if (raw.bufferedAmount > WS_BUFFERED_MAX) {
    await new Promise<void>((resolve) => {
      socket.once('drain', resolve);
      socket.once('close', resolve);
    });
  }
}

export function logRoutes(api: PluginApi<LogsOptions>, collector: Collector): void {
  const { router, logFiles, options } = api;
  const metrics = api.use('metrics');
  metrics.gauge('jinad_log_followers', 'Clients following a log now (HTTP and WebSocket)', [], (g) => g.set(logFiles.followers()));
  const lagged = metrics.counter('jinad_log_followers_lagged_total', 'Followers ended because they fell too far behind');
  const LogId = logId(api.kinds);
  const { resolve, onGone } = logTargets(api, collector);

  router.get(
    '/logs/:id',
    describe({
      tags: ['logs'],
      summary: 'A log file; with follow=true, NDJSON: the last `tail` lines (after `since`), then new ones',
      responses: { 200: { description: 'JSON lines `{time, stream, message, workspace_id, object_id}`' }, 404: { description: 'unknown id' }, 422: { description: 'bad id or query' } },
    }),
    validate('param', v.object({ id: LogId })),
    validate('query', LogsQuery),
    async (c) => {
      const id = c.req.valid('param').id;
      const q = c.req.valid('query');
      const follow = q.follow === 'true' || q.follow === '1';
      const target = resolve(id);
      if (!follow && q.tail === undefined && q.since === undefined) {
        logFiles.flush(target.file); // lines appended this turn are in the answer
        if (!existsSync(target.file)) throw fail('log_not_found', `log file ${id} not found in workspace ${target.workspaceId}`);
        return c.body(readFileSync(target.file), 200, { 'content-type': 'application/x-ndjson; charset=utf-8' });
      }
      c.header('content-type', 'application/x-ndjson; charset=utf-8');
      c.header('cache-control', 'no-cache');
      return stream(c, async (s) => {
        const ac = new AbortController();
        s.onAbort(() => ac.abort());
        const off = onGone(id, () => ac.abort());
        const heartbeat = setInterval(() => void s.write('\n').catch(() => ac.abort()), options.heartbeatMs);
        try {
          for await (const lines of logFiles.followBatches(target.file, { tail: q.tail, since: q.since, follow, signal: ac.signal })) {
            await s.write(`${lines.join('\n')}\n`);
          }
        } catch (err) {
          // A reader too slow for the log: say why the stream ends, as a last JSON line.
          if (err instanceof FellBehindError) lagged.inc();
          if (err instanceof FellBehindError) await s.write(`${JSON.stringify({ error: err.message })}\n`).catch(() => {});
        } finally {
          clearInterval(heartbeat);
          off();
        }
      });
    },
  );

  router.get(
    '/logstream/:id',
    describe({ tags: ['logs'], summary: 'WebSocket: the recent tail of a log, then new lines as they come' }),
    validate('param', v.object({ id: LogId })),
    validate('query', StreamQuery),
    async (c, next) => {
      // Resolve before upgrading: an unknown id is a plain 404.
      c.set('logTarget' as never, resolve(c.req.valid('param').id) as never);
      await next();
    },
    upgradeWebSocket((c) => {
      const id = c.req.param('id') as string;
      const target = c.get('logTarget' as never) as Target;
      const q = c.req.query();
      const timeout = Number(q.timeout ?? 0);
      const tail = q.tail === undefined ? 100 : Number(q.tail);
      const ac = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      let heartbeat: NodeJS.Timeout | undefined;
      let off = () => {};
      return {
        onOpen(_event, ws) {
          const close = (reason: string) => {
            ac.abort();
            ws.close(1000, reason.slice(0, 120));
          };
          const arm = () => {
            if (!timeout) return;
            clearTimeout(timer);
            timer = setTimeout(() => close(`no new log lines for ${timeout} s`), timeout * 1000);
          };
          off = onGone(id, close);
          heartbeat = setInterval(() => (ws.raw as { ping?: () => void } | undefined)?.ping?.(), options.heartbeatMs);
          arm();
          void (async () => {
            try {
              for await (const lines of logFiles.followBatches(target.file, { tail, signal: ac.signal })) {
                arm();
                await sendBatch(ws, lines);
              }
            } catch (err) {
              if (err instanceof FellBehindError) {
                lagged.inc();
                close(err.message);
              } // otherwise the client went away mid-send
            }
          })();
        },
        onClose() {
          ac.abort();
          clearTimeout(timer);
          clearInterval(heartbeat);
          off();
        },
      };
    }),
  );
  router.get('/logstream/:id', () => {
    throw invalid('this route takes a WebSocket upgrade');
  });
}
