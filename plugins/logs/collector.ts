/**
 * Collecting container logs into files. Every container the daemon starts (it has workspace
 * and object labels) gets Docker's `fluentd` log driver, asynchronous so a receiver that is down
 * never stops a container, tagged `jinad.<workspace>.<object>`. Lines go to
 * `<workdir>/logs/<object>/logging.log`, in order, each once:
 *  - the forward-protocol receiver here writes what the driver sends;
 *  - at start, what Docker kept (dual logging) but the file misses is backfilled;
 *  - with an external Fluentd, the daemon reads the lines back through Docker instead.
 */
import path from 'node:path';
import { LABEL } from '../../src/docker/labels.ts';
import type { ContainerSpec } from '../../src/docker/runtime.ts';
import { type LogRecord, nanoIso, normalizeTime } from '../../src/logfiles.ts';
import type { PluginApi } from '../../src/plugins.ts';
import { type Entry, ForwardReceiver } from './receiver.ts';

const SYNC_MS = 1000;

export function createCollector(api: PluginApi) {
  const { config, docker, logFiles, log } = api;
  const workspaces = api.use('workspaces');
  const external = config.logs.fluentd;
  const address = external ?? `tcp://${config.logs.host}:${config.logs.port}`;
  const fileFor = (workspaceId: string, objectId: string) => path.join(workspaces.workdir(workspaceId), 'logs', objectId, 'logging.log');
  const partials = new Map<string, string>();
  let server: ForwardReceiver | undefined;
  let syncTimer: NodeJS.Timeout | undefined;

  /** Append in order: a line not later than the file's last one was written already (false). */
  function write(workspaceId: string, objectId: string, rec: Omit<LogRecord, 'workspace_id' | 'object_id'>): boolean {
    return logFiles.append(fileFor(workspaceId, objectId), { ...rec, workspace_id: workspaceId, object_id: objectId }, { ordered: true });
  }

  /** One entry from the log driver: tag `jinad.<ws>.<obj>`, record `{log, source, container_id, partial_*}`. */
  function onEntry({ tag, epoch, nano, record }: Entry): void {
    const [prefix, workspaceId, objectId] = tag.split('.');
    // A line that arrives after its workspace was deleted must not recreate its folder.
    if (prefix !== 'jinad' || !workspaceId || !objectId || !workspaces.has(workspaceId)) return;
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
    write(workspaceId, objectId, { time: iso, stream: String(record.source ?? 'stdout'), message });
  }

  /** What Docker kept for a container but its file misses (after the file's last line). */
  async function syncFromDocker(containerId: string, workspaceId: string, objectId: string): Promise<number> {
    const last = logFiles.lastTime(fileFor(workspaceId, objectId));
    const since = last ? Date.parse(last.slice(0, 23) + 'Z') / 1000 : 0;
    let n = 0;
    for (const line of await docker.containerLogLines(containerId, since)) {
      if (write(workspaceId, objectId, { time: normalizeTime(line.time), stream: line.stream, message: line.message })) n++;
    }
    return n;
  }

  async function syncAll(): Promise<number> {
    const mine = await docker.listLabelled(api.labels({}));
    let n = 0;
    for (const c of mine.containers) {
      const ws = c.labels[LABEL.workspace];
      const obj = c.labels[LABEL.object];
      if (ws && obj && workspaces.has(ws)) n += await syncFromDocker(c.id, ws, obj).catch(() => 0);
    }
    return n;
  }

  return {
    /** Give a container the fluentd log driver, tagged with its workspace and object. */
    decorate(spec: ContainerSpec): ContainerSpec {
      const ws = spec.labels[LABEL.workspace];
      const obj = spec.labels[LABEL.object];
      if (!ws || !obj) return spec;
      return {
        ...spec,
        logConfig: {
          type: 'fluentd',
          config: { 'fluentd-address': address, 'fluentd-async': 'true', 'fluentd-sub-second-precision': 'true', tag: `jinad.${ws}.${obj}` },
        },
      };
    },

    /** Backfill from Docker, then receive (or, with an external Fluentd, keep reading through Docker). */
    async start(): Promise<void> {
      const backfilled = await syncAll().catch((err) => {
        log.warn('could not backfill logs from Docker', err);
        return 0;
      });
      if (backfilled) log.info(`backfilled ${backfilled} log line(s) Docker kept while the daemon was away`);
      if (external) {
        const tick = async () => {
          await syncAll().catch((err) => log.warn('reading logs through Docker failed', err));
          syncTimer = setTimeout(tick, SYNC_MS);
        };
        syncTimer = setTimeout(tick, SYNC_MS);
        return;
      }
      server = new ForwardReceiver(onEntry);
      try {
        await server.listen(config.logs.port, config.logs.host);
      } catch (err) {
        throw new Error(`the log receiver cannot listen on ${config.logs.host}:${config.logs.port} (logs.port in jinad.config.ts): ${(err as Error).message}`);
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
