/**
 * Collecting objects' output into files. The backend routes every object's output to a
 * forward-protocol (Fluentd) address, tagged `jinad.<workspace>.<object>` (on Docker: the
 * `fluentd` log driver, asynchronous so a receiver that is down never stops a container).
 * Lines go to `logs/<object>/logging.log` in the daemon's folder of the workspace, in the order
 * they arrive, each once:
 *  - the forward-protocol receiver here writes what the engine sends: on a Unix socket only the
 *    daemon's user (and root, the engine) can open, or from a Swarm's nodes over TCP;
 *  - once the daemon answers after a start, what the backend kept but the file misses is
 *    backfilled, found by position in the backend's own copy (what the receiver took meanwhile
 *    is held until then); the same lines still buffered in the driver are then passed over;
 *  - with an external Fluentd, the daemon reads the lines back through the backend instead.
 */
import path from 'node:path';
import { jinaType, lineKey, type LogRecord, msIso, nanoIso, normalizeTime, type ObjectState, type PluginApi } from 'jinad/plugin';
import { cutLine, RateLimit } from './limits.ts';
import { type LogsOptions, socketPathFor } from './options.ts';
import { type Entry, ForwardReceiver } from './receiver.ts';

const SYNC_MS = 1000;
/** Entries held while the start's backfill runs, at most (then written as they come). */
const HOLD_MAX = 100_000;
/** Backfill reads this far before the last line received, in case the two clocks of one machine differ a little. */
const BACKFILL_MARGIN_S = 10;
/** Objects whose logs are read back at once (a restart with hundreds of objects waits for all of them). */
const SYNC_CONCURRENCY = 16;
/** A Swarm's node list is read again for an unknown sender at most this often. */
const SENDERS_MS = 2000;

export function createCollector(api: PluginApi<LogsOptions>) {
  const { options, backend, logFiles, log } = api;
  const workspaces = api.use('workspaces');
  const external = options.fluentd;
  const socket = options.socket ?? socketPathFor(api.config.root);
  const address = external ?? `unix://${socket}`;
  /**
   * Per object, kept because they are asked for at every line: its log file, and the JSON of the
   * fields all its lines on one stream share (what follows `message` in a line).
   */
  const objects = new Map<string, { file: string; tails: Map<string, string> }>();
  const objectFor = (workspaceId: string, objectId: string, key = `${workspaceId}/${objectId}`) => {
    let o = objects.get(key);
    if (!o) {
      if (objects.size >= 4096) objects.clear();
      objects.set(key, (o = { file: path.join(api.daemonDir(workspaceId), 'logs', objectId, 'logging.log'), tails: new Map() }));
    }
    return o;
  };
  const fileFor = (workspaceId: string, objectId: string) => objectFor(workspaceId, objectId).file;
  /** Parts of a line Docker split (16 KiB each), joined until the last: what is kept, and the whole length. */
  const partials = new Map<string, { text: string; bytes: number }>();
  /** Per object, the lines backfilled at start, in order: the driver may still deliver them from its buffer, and then they are passed over. */
  const buffered = new Map<string, string[]>();

  const metrics = api.use('metrics');
  const lines = metrics.counter('jinad_log_lines_total', 'Log lines received from objects, by kind', ['kind']);
  const bytes = metrics.counter('jinad_log_bytes_total', 'Bytes of log lines received from objects, by kind', ['kind']);
  const dropped = metrics.counter('jinad_log_lines_dropped_total', 'Log lines not kept: over logs.linesPerSecond, by kind', ['kind']);
  let server: ForwardReceiver | undefined;
  let syncTimer: NodeJS.Timeout | undefined;

  const recordOf = (workspaceId: string, objectId: string, kind: string, rec: { source_time: string; stream: string; message: string }, now?: number): LogRecord => ({
    time: msIso(now),
    ...rec,
    workspace_id: workspaceId,
    object_id: objectId,
    host: objectId,
    name: kind,
    type: jinaType(rec.stream),
  });
  /** Lines and bytes by kind since the counters were last told: told once a turn, not at every line of a burst. */
  const tally = new Map<string, { lines: number; bytes: number }>();
  let telling: NodeJS.Immediate | undefined;
  const tell = () => {
    telling = undefined;
    for (const [kind, t] of tally) {
      lines.inc({ kind }, t.lines);
      bytes.inc({ kind }, t.bytes);
    }
    tally.clear();
  };
  const counted = (kind: string, rec: { message: string }, length = Buffer.byteLength(rec.message)) => {
    const t = tally.get(kind);
    if (t) {
      t.lines++;
      t.bytes += length;
    } else tally.set(kind, { lines: 1, bytes: length });
    telling ??= setImmediate(tell);
  };
  /** Append in arrival order, the source's time kept beside. */
  function write(workspaceId: string, objectId: string, kind: string, rec: { source_time: string; stream: string; message: string }, length?: number, now?: number): void {
    logFiles.append(fileFor(workspaceId, objectId), recordOf(workspaceId, objectId, kind, rec, now));
    counted(kind, rec, length);
  }
  /**
   * `write` for a live line, its JSON made as JSON.stringify(recordOf(…)) makes it but with the
   * fields it shares with the object's other lines serialised once (a burst is most lines).
   */
  function writeLive(o: { file: string; tails: Map<string, string> }, workspaceId: string, objectId: string, kind: string, rec: { source_time: string; stream: string; message: string }, length: number | undefined, now: number): void {
    let tail = o.tails.get(rec.stream);
    if (tail === undefined) {
      const { time, source_time, stream, message, ...fixed } = recordOf(workspaceId, objectId, kind, rec, now);
      o.tails.set(rec.stream, (tail = JSON.stringify(fixed).slice(1)));
    }
    const time = msIso(now);
    logFiles.appendLine(o.file, `{"time":"${time}","source_time":"${rec.source_time}","stream":${JSON.stringify(rec.stream)},"message":${JSON.stringify(rec.message)},${tail}`, time);
    counted(kind, rec, length);
  }

  const rate = new RateLimit(options.linesPerSecond, (key, n) => {
    const [workspaceId, objectId] = key.split('/') as [string, string];
    const kind = kindOf(workspaceId, objectId);
    if (!kind) return;
    dropped.inc({ kind }, n);
    write(workspaceId, objectId, kind, { source_time: msIso(), stream: 'stderr', message: `jinad: ${n} line(s) over logs.linesPerSecond (${options.linesPerSecond}) were not kept` });
  });

  /**
   * The object's kind when the workspace exists and the object is one this daemon runs in it
   * (`workspace` for the workspace's own run container); undefined otherwise.
   */
  const kindOf = (workspaceId: string, objectId: string): string | undefined => {
    if (!workspaces.has(workspaceId)) return undefined;
    if (objectId === workspaceId) return 'workspace';
    const owner = api.kinds.resolve(objectId);
    return owner?.workspaceId === workspaceId ? owner.kind : undefined;
  };

  /** Whether a live line is one backfilled at start that the driver delivers now: matched by position, each once. */
  function wasBackfilled(objectId: string, rec: { source_time: string; stream: string; message: string }): boolean {
    const queue = buffered.get(objectId);
    if (!queue) return false;
    const at = queue.indexOf(lineKey(rec)!);
    if (at < 0) {
      buffered.delete(objectId); // the driver is past its buffer: every later line is new
      return false;
    }
    queue.splice(0, at + 1); // lines before it the driver lost; they were backfilled
    if (!queue.length) buffered.delete(objectId);
    return true;
  }

  /** One entry from the log driver: tag `jinad.<ws>.<obj>`, record `{log, source, container_id, partial_*}`. */
  function onEntry({ tag, epoch, nano, record }: Entry): void {
    const [prefix, workspaceId, tagged, ...rest] = tag.split('.');
    // A warm spare that became an object keeps the tag it was made with, naming the spare.
    const objectId = tagged && (backend.spares?.objectOf(tagged) ?? tagged);
    // Only a tag naming an object this daemon runs in that workspace (or the workspace's own run
    // container) is written: a line that arrives after its workspace was deleted must not
    // recreate its folder, and a sender that got past the socket still cannot make a file.
    const kind = prefix === 'jinad' && workspaceId && objectId && !rest.length ? kindOf(workspaceId, objectId) : undefined;
    if (!kind) return;
    let message = String(record.log ?? '');
    let length = Buffer.byteLength(message);
    // Docker splits long lines (and output without a final newline) into partial messages.
    if (record.partial_message === 'true') {
      const key = `${objectId}/${String(record.partial_id ?? record.container_id)}`;
      const sofar = partials.get(key) ?? { text: '', bytes: 0 };
      // What is past the line limit is counted, not kept: a line without end cannot fill memory.
      if (sofar.bytes < options.maxLineBytes) sofar.text += message;
      sofar.bytes += length;
      if (record.partial_last !== 'true') {
        partials.set(key, sofar);
        return;
      }
      partials.delete(key);
      [message, length] = [sofar.text, sofar.bytes];
    }
    const rec = { source_time: nanoIso(epoch, nano), stream: String(record.source ?? 'stdout'), message: cutLine(message, options.maxLineBytes, length) };
    if (wasBackfilled(objectId!, rec)) return;
    const now = Date.now();
    const key = `${workspaceId}/${objectId}`;
    if (!rate.admit(key, now)) return;
    writeLive(objectFor(workspaceId!, objectId!, key), workspaceId!, objectId!, kind, rec, rec.message === message ? length : undefined, now);
  }

  /**
   * Entries the receiver took before the start's backfill was done: written after it, in order
   * (the driver delivers what it buffered as soon as the receiver listens, which is before the
   * daemon answers; the backfill runs once it answers). Past HOLD_MAX they are written at once.
   */
  let held: Entry[] | undefined = [];
  const receive = (entry: Entry) => {
    if (!held) return onEntry(entry);
    held.push(entry);
    if (held.length >= HOLD_MAX) release();
  };
  const release = () => {
    const entries = held ?? [];
    held = undefined;
    for (const e of entries) onEntry(e);
  };

  /**
   * What the backend kept for an object but its file misses: from a little before the last line
   * received, the lines of the backend's own copy after the newest one the file has.
   */
  async function syncFromBackend(workspaceId: string, objectId: string, kind: string, expectDriver: boolean): Promise<number> {
    const file = fileFor(workspaceId, objectId);
    const last = logFiles.lastTime(file);
    const since = last ? Date.parse(`${last.slice(0, 23)}Z`) / 1000 - BACKFILL_MARGIN_S : 0;
    const batch = (await backend.objectLogLines(objectId, Math.max(0, since))).map((line) =>
      recordOf(workspaceId, objectId, kind, { source_time: normalizeTime(line.time), stream: line.stream, message: cutLine(line.message, options.maxLineBytes) }),
    );
    const fresh = logFiles.appendAfterLast(file, batch);
    for (const rec of fresh) counted(kind, rec);
    if (expectDriver && fresh.length) buffered.set(objectId, fresh.map((r) => lineKey(r)!));
    return fresh.length;
  }

  /** An object killed over its memory limit says so in its own log, where its last lines are. */
  function onStop(state: ObjectState): void {
    const kind = state.oomKilled ? kindOf(state.workspaceId, state.id) : undefined;
    if (!kind) return;
    const message = `jinad: ${state.id} was killed for going over its memory limit (OOM, exit code ${state.exitCode}); give it more with \`memory\` in its create arguments or in the workspace's .jinad`;
    write(state.workspaceId, state.id, kind, { source_time: msIso(), stream: 'stderr', message });
  }

  /** `expectDriver`: the receiver is about to take what the driver buffered meanwhile, which the backfill then holds. */
  async function backfill(expectDriver: boolean): Promise<void> {
    const n = await syncAll(expectDriver).catch((err) => {
      log.warn('could not backfill logs from the backend', err);
      return 0;
    });
    if (n) log.info(`backfilled ${n} log line(s) the backend kept while the daemon was away`);
  }

  /** Every object's missed lines, a few objects at a time (each its own file: order within a file is kept). */
  async function syncAll(expectDriver = false): Promise<number> {
    const objects = (await backend.listOwned({ images: false })).objects.filter((o) => o.workspaceId && workspaces.has(o.workspaceId));
    let n = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: SYNC_CONCURRENCY }, async () => {
        while (next < objects.length) {
          const o = objects[next++]!;
          n += await syncFromBackend(o.workspaceId, o.id, kindOf(o.workspaceId, o.id) ?? 'unknown', expectDriver).catch(() => 0);
        }
      }),
    );
    return n;
  }

  /** Senders over TCP: a Swarm's nodes, read again (at most every SENDERS_MS) when an address is not among them. */
  let senders = new Set<string>();
  let sendersRead = 0;
  const allowSender = async (address: string): Promise<boolean> => {
    const addr = address.replace(/^::ffff:/, '');
    if (!senders.has(addr) && Date.now() - sendersRead > SENDERS_MS) {
      sendersRead = Date.now();
      senders = new Set(await backend.logSenders!().catch(() => [...senders]));
    }
    return senders.has(addr);
  };
  const refused = (reason: string, from: string) => log.warn(`the log receiver closed a connection from ${from}: ${reason}`);

  async function listen(): Promise<void> {
    server = new ForwardReceiver(receive, { idleMs: options.idleMs, maxConnections: options.maxConnections, maxMessageBytes: options.maxMessageBytes }, refused);
    try {
      await server.listenSocket(socket);
    } catch (err) {
      throw new Error(`the log receiver cannot listen on ${socket} (logs.socket in jinad.config.ts, JINAD_LOGS_SOCKET): ${(err as Error).message}`);
    }
    if (!backend.logSenders) return;
    try {
      await server.listen(options.port, options.host, allowSender);
    } catch (err) {
      throw new Error(`the log receiver cannot listen on ${options.host}:${options.port} (logs.host and logs.port in jinad.config.ts, JINAD_LOGS_PORT): ${(err as Error).message}`);
    }
  }

  return {
    /**
     * Route every object's output here: listen (a receiver that cannot listen stops start-up,
     * naming the address), or, with an external Fluentd, route there.
     */
    async start(): Promise<void> {
      if (!external) await listen(); // what it takes is held until the backfill (see reconcile)
      backend.routeLogs({ address, ...(!external && backend.logSenders && { network: `tcp://${options.host}:${options.port}` }) });
      api.use('live').onStop(onStop);
    },

    /**
     * Once the daemon answers: what the backend kept while the daemon was away goes into the
     * files first, then the lines the driver delivered meanwhile: files stay in order, and a line
     * the driver lost when the receiver went away is found (the buffered ones are then known,
     * not doubled). With an external Fluentd: backfill, then keep reading the backend's logs back.
     */
    async reconcile(): Promise<void> {
      if (!external) {
        try {
          await backfill(true);
        } finally {
          release();
        }
        // Whatever the driver still holds comes within seconds of the receiver listening.
        setTimeout(() => buffered.clear(), 60_000).unref();
      } else {
        held = undefined;
        await backfill(false);
        const tick = async () => {
          await syncAll().catch((err) => log.warn('reading logs through the backend failed', err));
          syncTimer = setTimeout(tick, SYNC_MS);
        };
        syncTimer = setTimeout(tick, SYNC_MS);
      }
    },

    async stop(): Promise<void> {
      clearTimeout(syncTimer);
      if (telling) clearImmediate(telling);
      tell();
      rate.close();
      await server?.close();
    },

    fileFor,
  };
}
export type Collector = ReturnType<typeof createCollector>;
