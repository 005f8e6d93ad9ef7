/**
 * Warm spares (scale to zero): containers started ahead, from an object's spec less its id and
 * its envs, that become an object of that spec in tens of milliseconds (a rename) where starting
 * a container takes the engine half a second. A spare runs the partial daemon with the runtime
 * loaded and no object; the daemon then starts the object in it, with the object's envs. Spares
 * are kept per spec (workspace, image, kind, command, ports, limits, restart policy) for as long
 * as an object of that spec wants them (and a while after), and refilled after each claim.
 *
 * What a container's creation fixes is handled here: its name is renamed to the object's id; its
 * limits and restart policy are the spec's (part of what spares are kept by); its log tag names
 * the spare (`objectOf` maps it to the object); its labels say `spare` with its first name in
 * `io.jinad.object`, so an unclaimed spare (name = that label) is left out of object states and
 * events, and a claimed one (renamed) is its object.
 */
import { createHash, randomUUID } from 'node:crypto';
import tar from 'tar-stream';
import type { Logger } from '../../logger.ts';
import type { ObjectSpec } from '../types.ts';
import { type ContainerSpec, type ContainerState, inspectContainer, removeContainer, runContainer } from './containers.ts';
import { type Engine, statusOf } from './engine.ts';
import { LABEL, type Labels } from './labels.ts';

export const SPARE_LABEL = 'io.jinad.spare';
const PREFIX = 'jspare-';
/**
 * How long spares stay once no object wants them: a Flow deleted and made again (a redeploy, a
 * deployment file applied) still finds one; a workspace that stopped using them frees them.
 */
const LINGER_MS = 10 * 60_000;
/** The most `readFile` takes in (a partial daemon's state file is a few KiB; the container could plant anything). */
const MAX_FILE_BYTES = 1024 * 1024;

/** A container that is an unclaimed spare (its name is still its first one). */
export const isUnclaimedSpare = (name: string, labels: Labels | undefined) => Boolean(labels?.[SPARE_LABEL]) && labels?.[LABEL.object] === name;

interface Pool {
  /** The spec a spare of this key is made from (its id: each spare's own name). */
  spec: ObjectSpec;
  /** Objects that want spares of this key. */
  wanted: Set<string>;
  count: number;
  /** Started spares, oldest first. */
  ready: string[];
  filling?: Promise<void>;
  /** Set while nobody wants them: when they go. */
  linger?: NodeJS.Timeout;
}

export interface SparePool {
  /** Keep `count` spares for objects made like `spec` (`spec.id` is one that wants them). */
  keep(spec: ObjectSpec, count: number): void;
  /** A ready spare renamed to `spec.id` (the object's stopped container renamed away, then removed); undefined when none is ready. */
  claim(spec: ObjectSpec): Promise<ContainerState | undefined>;
  objectOf(name: string): string | undefined;
  /** `id` is removed: it wants no spares; a key nobody wants loses its spares after a while. */
  forget(id: string): void;
  /** Remove every spare of a workspace (before its network goes). */
  dropWorkspace(workspaceId: string): Promise<void>;
  /** Remove this instance's unclaimed spares (pools live in a daemon's memory) and learn what claimed ones became. */
  start(instance: string): Promise<void>;
  close(): Promise<void>;
  readFile(id: string, file: string): Promise<Buffer | undefined>;
}

/**
 * What makes two objects' containers interchangeable until one becomes a given object: all of
 * the spec but its id (limits and restart policy too: the engine cannot lift a memory limit by
 * an update). The ports inside only: the daemon fronts the host ports of idle-enabled objects.
 */
function keyOf(spec: ObjectSpec): string {
  const { id: _, ports, ...rest } = spec;
  return createHash('sha256').update(JSON.stringify({ ...rest, ports: ports.map((p) => p.container).sort((a, b) => a - b) })).digest('hex').slice(0, 16);
}

/** `toContainer`: how the backend runs an object's spec (its name, labels and log tag from `spec.id`). */
export function createSparePool(docker: Engine, log: Logger, toContainer: (spec: ObjectSpec) => ContainerSpec): SparePool {
  const pools = new Map<string, Pool>();
  /** A claimed spare's first name → the object it became. */
  const became = new Map<string, string>();
  let closed = false;

  async function fill(key: string, pool: Pool): Promise<void> {
    while (!closed && pools.get(key) === pool && pool.ready.length < pool.count) {
      const name = `${PREFIX}${randomUUID()}`;
      try {
        // Its published ports are the engine's pick: the daemon fronts the host ports.
        const c = toContainer({ ...pool.spec, id: name, ports: pool.spec.ports.map((p) => ({ container: p.container })) });
        await runContainer(docker, { ...c, labels: { ...c.labels, [SPARE_LABEL]: key } });
      } catch (err) {
        log.warn(`a spare container could not be started: ${(err as Error).message}`);
        return;
      }
      if (closed || pools.get(key) !== pool) {
        await removeContainer(docker, name).catch(() => undefined);
        return;
      }
      pool.ready.push(name);
    }
  }
  const refill = (key: string, pool: Pool) => {
    pool.filling ??= fill(key, pool).finally(() => (pool.filling = undefined));
  };
  const drop = async (pool: Pool) => {
    clearTimeout(pool.linger);
    const names = pool.ready.splice(0);
    await Promise.all(names.map((n) => removeContainer(docker, n).catch(() => undefined)));
  };

  return {
    keep(spec, count) {
      const key = keyOf(spec);
      let pool = pools.get(key);
      if (!pool) pools.set(key, (pool = { spec, wanted: new Set(), count, ready: [] }));
      pool.wanted.add(spec.id);
      clearTimeout(pool.linger);
      pool.count = count;
      refill(key, pool);
    },

    async claim(spec) {
      const { id } = spec;
      const key = keyOf(spec);
      const pool = pools.get(key);
      const name = pool?.ready.shift();
      if (!pool || !name) return undefined;
      refill(key, pool);
      // The object's stopped container (a wake) gives its name up, and is removed after: a
      // rename takes the engine ~10 ms, a removal ~70.
      const old = `${id}-was-${randomUUID().slice(0, 8)}`;
      let moved = false;
      try {
        moved = await docker
          .getContainer(id)
          .rename({ name: old })
          .then(
            () => true,
            (err) => {
              if (statusOf(err) !== 404) throw err;
              return false;
            },
          );
        await docker.getContainer(name).rename({ name: id });
        if (moved) void removeContainer(docker, old).catch((err) => log.warn(`the stopped container of ${id} could not be removed: ${(err as Error).message}`));
      } catch (err) {
        log.warn(`spare ${name} could not become ${id}: ${(err as Error).message}`);
        if (moved) await docker.getContainer(old).rename({ name: id }).catch(() => undefined); // the object keeps its container
        await removeContainer(docker, name).catch(() => undefined);
        return undefined;
      }
      became.set(name, id);
      return inspectContainer(docker, id);
    },

    objectOf: (name) => (name.startsWith(PREFIX) ? became.get(name) : undefined),

    forget(id) {
      for (const [name, object] of became) if (object === id) became.delete(name);
      for (const [key, pool] of pools) {
        if (!pool.wanted.delete(id) || pool.wanted.size > 0) continue;
        pool.linger = setTimeout(() => {
          if (pools.get(key) !== pool || pool.wanted.size > 0) return;
          pools.delete(key);
          void drop(pool);
        }, LINGER_MS);
        pool.linger.unref();
      }
    },

    async dropWorkspace(workspaceId) {
      for (const [key, pool] of pools) {
        if (pool.spec.workspaceId !== workspaceId) continue;
        pools.delete(key);
        pool.wanted.clear();
        await pool.filling;
        await drop(pool);
      }
    },

    async start(instance) {
      const listed = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${LABEL.instance}=${instance}`, SPARE_LABEL] }) });
      for (const c of listed) {
        const name = (c.Names[0] ?? '').replace(/^\//, '');
        const first = c.Labels?.[LABEL.object] ?? '';
        if (isUnclaimedSpare(name, c.Labels)) await removeContainer(docker, name).catch(() => undefined);
        else if (first.startsWith(PREFIX)) became.set(first, name);
      }
    },

    async close() {
      closed = true;
      const all = [...pools.values()];
      pools.clear();
      await Promise.all(all.map(async (p) => (await p.filling, await drop(p))));
    },

    async readFile(id, file) {
      let stream: NodeJS.ReadableStream;
      try {
        stream = await docker.getContainer(id).getArchive({ path: file });
      } catch {
        return undefined; // no such container or file
      }
      const extract = tar.extract();
      let content: Buffer | undefined;
      extract.on('entry', (header, entry, next) => {
        // A regular file of a sane size only (not a link the container made, not a planted giant).
        const wanted = header.type === 'file' && (header.size ?? 0) <= MAX_FILE_BYTES && !content;
        const chunks: Buffer[] = [];
        entry.on('data', (c) => wanted && chunks.push(c as Buffer));
        entry.on('end', () => {
          if (wanted) content = Buffer.concat(chunks);
          next();
        });
      });
      await new Promise<void>((resolve, reject) => {
        extract.on('finish', resolve);
        extract.on('error', reject);
        stream.pipe(extract);
      });
      return content;
    },
  };
}
