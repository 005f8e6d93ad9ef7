/**
 * Collecting objects' output into files. The backend routes every object's output to a
 * forward-protocol (Fluentd) address, tagged `jinad.<workspace>.<object>` (on Docker: the
 * `fluentd` log driver, asynchronous so a receiver that is down never stops a container).
 * Lines go to `logs/<object>/logging.log` in the daemon's folder of the workspace, in order,
 * each once:
 *  - the forward-protocol receiver here writes what the backend sends;
 *  - at start, what the backend kept but the file misses is backfilled;
 *  - with an external Fluentd, the daemon reads the lines back through the backend instead.
 */
import path from 'node:path';
import { jinaType, type LogRecord, msIso, nanoIso, normalizeTime, type ObjectState, type PluginApi } from 'jinad/plugin';
import type { LogsOptions } from './options.ts';
import { type Entry, ForwardReceiver } from './receiver.ts';

const SYNC_MS = 1000;
/** Backfill reads this far before the last line received, in case the two clocks of one machine differ a little. */
const BACKFILL_MARGIN_S = 10;
/** Objects whose logs are read back at once (a restart with hundreds of objects waits for all of them). */
const SYNC_CONCURRENCY = 16;

export function createCollector(api: PluginApi<LogsOptions>) {
  const { options, backend, logFiles, log } = api;
  const workspaces = api.use('workspaces');
  const external = options.fluentd;
  const address = external ?? `tcp://${options.host}:${options.port}`;
  const fileFor = (workspaceId: string, objectId: string) => path.join(api.daemonDir(workspaceId), 'logs', objectId, 'logging.log');
  const partials = new Map<string, string>();

  const metrics = api.use('metrics');
  const lines = metrics.counter('jinad_log_lines_total', 'Log lines received from objects, by kind', ['kind']);
  const bytes = metrics.counter('jinad_log_bytes_total', 'Bytes of log lines received from objects, by kind', ['kind']);
  let server: ForwardReceiver | undefined;
  let syncTimer: NodeJS.Timeout | undefined;

  /** Append in arrival order, the source's time kept beside; a line already written (same source time and text) is not written again (false). */
  function write(workspaceId: string, objectId: string, kind: string, rec: { source_time: string; stream: string; message: string }): boolean {
    const record: LogRecord = { time: msIso(), ...rec, workspace_id: workspaceId, object_id: objectId, host: objectId, name: kind, type: jinaType(rec.stream) };
    const written = logFiles.append(fileFor(workspaceId, objectId), record, { once: true });
    if (written) {
      lines.inc({ kind });
      bytes.inc({ kind }, Buffer.byteLength(rec.message));
    }
    return written;
  }

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

  /** One entry from the log driver: tag `jinad.<ws>.<obj>`, record `{log, source, container_id, partial_*}`. */
  function onEntry({ tag, epoch, nano, record }: Entry): void {
    const [prefix, workspaceId, tagged, ...rest] = tag.split('.');
    // A warm spare that became an object keeps the tag it was made with, naming the spare.
    const objectId = tagged && (backend.spares?.objectOf(tagged) ?? tagged);
    // Only a tag naming an object this daemon runs in that workspace (or the workspace's own run
    // container) is written: anyone on the machine can send records, and a forged tag must not
    // make a file. A line that arrives after its workspace was deleted must not recreate its folder.
    const kind = prefix === 'jinad' && workspaceId && objectId && !rest.length ? kindOf(workspaceId, objectId) : undefined;
    if (!kind) return;
    const iso = nanoIso(epoch, nano);
    let message = String(record.log ?? '');
    // Docker splits long lines (and output without a final newline) into partial messages.
    if (record.partial_message === 'true') {
      const key = String(record.partial_id ?? record.container_id);
      const sofar = (partials.get(key) ?? '') + message;
      if (record.partial_last !== 'true') {
        partials.set(key, sofar);
        return;
      }
      partials.delete(key);
      message = sofar;
    }
    write(workspaceId!, objectId!, kind, { source_time: iso, stream: String(record.source ?? 'stdout'), message });
  }

  /**
   * What the backend kept for an object but its file misses: lines since a little before the last
   * one received (the backend's clock is this machine's), less those already written.
   */
  async function syncFromBackend(workspaceId: string, objectId: string, kind: string): Promise<number> {
    const last = logFiles.lastTime(fileFor(workspaceId, objectId));
    const since = last ? Date.parse(`${last.slice(0, 23)}Z`) / 1000 - BACKFILL_MARGIN_S : 0;
    let n = 0;
    for (const line of await backend.objectLogLines(objectId, Math.max(0, since))) {
      if (write(workspaceId, objectId, kind, { source_time: normalizeTime(line.time), stream: line.stream, message: line.message })) n++;
    }
    return n;
  }

  /** An object killed over its memory limit says so in its own log, where its last lines are. */
  function onStop(state: ObjectState): void {
    const kind = state.oomKilled ? kindOf(state.workspaceId, state.id) : undefined;
    if (!kind) return;
    const message = `jinad: ${state.id} was killed for going over its memory limit (OOM, exit code ${state.exitCode}); give it more with \`memory\` in its create arguments or in the workspace's .jinad`;
    write(state.workspaceId, state.id, kind, { source_time: msIso(), stream: 'stderr', message });
  }

  async function backfill(): Promise<void> {
    const n = await syncAll().catch((err) => {
      log.warn('could not backfill logs from the backend', err);
      return 0;
    });
    if (n) log.info(`backfilled ${n} log line(s) the backend kept while the daemon was away`);
  }

  /** Every object's missed lines, a few objects at a time (each its own file: order within a file is kept). */
  async function syncAll(): Promise<number> {
    const objects = (await backend.listOwned({ images: false })).objects.filter((o) => o.workspaceId && workspaces.has(o.workspaceId));
    let n = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: SYNC_CONCURRENCY }, async () => {
        while (next < objects.length) {
          const o = objects[next++]!;
          n += await syncFromBackend(o.workspaceId, o.id, kindOf(o.workspaceId, o.id) ?? 'unknown').catch(() => 0);
        }
      }),
    );
    return n;
  }

  return {
    /**
     * Route every object's output here: listen (a receiver that cannot listen stops start-up,
     * naming the address), or, with an external Fluentd, route there.
     */
    async start(): Promise<void> {
      // What the backend kept while the daemon was away goes into the files first, before the
      // receiver takes the lines the driver buffered: files stay in order, and a line the driver
      // lost when the receiver went away is found (the buffered ones are then known, not doubled).
      if (!external) {
        await backfill();
        server = new ForwardReceiver(onEntry, { idleMs: options.idleMs, maxConnections: options.maxConnections });
        try {
          await server.listen(options.port, options.host);
        } catch (err) {
          throw new Error(`the log receiver cannot listen on ${options.host}:${options.port} (logs.port in jinad.config.ts, JINAD_LOGS_PORT): ${(err as Error).message}`);
        }
      }
      backend.routeLogs({ address });
      api.use('live').onStop(onStop);
    },

    /** With an external Fluentd: backfill, then keep reading the backend's logs back. */
    async reconcile(): Promise<void> {
      if (external) {
        await backfill();
        const tick = async () => {
          await syncAll().catch((err) => log.warn('reading logs through the backend failed', err));
          syncTimer = setTimeout(tick, SYNC_MS);
        };
        syncTimer = setTimeout(tick, SYNC_MS);
      }
    },

    async stop(): Promise<void> {
      clearTimeout(syncTimer);
      await server?.close();
    },

    fileFor,
  };
}
export type Collector = ReturnType<typeof createCollector>;
