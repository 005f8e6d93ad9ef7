/**
 * Images: build from a folder (a Dockerfile in it, or a generated one), look up, remove.
 * A failed build does not reject in Docker's API: its failure is an event in the output,
 * which becomes a BuildError carrying every line.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { readInside } from '../../runtime/safe-files.ts';
import { type BuildSpec, BuildError } from '../types.ts';
import { type Engine, idempotent, statusOf } from './engine.ts';
import { LABEL, type Labels } from './labels.ts';
import { addFile, addTree, createPack, type Pack } from './tar.ts';

/** Where a generated Dockerfile goes in the context; a .dockerignore keeps it out of the image. */
const GENERATED_DIR = '.jinad.build';

/**
 * The build context of a folder: its files (less `exclude`), plus, for a generated Dockerfile,
 * `.jinad.build/Dockerfile` and a .dockerignore (the folder's own, extended) that leaves it out.
 */
export function folderContext(spec: Pick<BuildSpec, 'dir' | 'exclude' | 'dockerfile'>): { pack: Pack; dockerfile: string; done: Promise<void> } {
  const pack = createPack();
  const generated = 'text' in spec.dockerfile ? spec.dockerfile.text : undefined;
  const skip = (rel: string) => rel === GENERATED_DIR || rel.startsWith(`${GENERATED_DIR}/`) || (spec.exclude?.(rel) ?? false) || (generated !== undefined && rel === '.dockerignore');
  const done = (async () => {
    // The folder is a work directory that containers write: read it confined.
    await addTree(pack, spec.dir, '', skip, true);
    if (generated !== undefined) {
      const userIgnore = existsSync(path.join(spec.dir, '.dockerignore')) ? readInside(spec.dir, '.dockerignore', { what: '.dockerignore' }) : '';
      await addFile(pack, `${GENERATED_DIR}/Dockerfile`, generated);
      await addFile(pack, '.dockerignore', `${userIgnore}\n${GENERATED_DIR}\n.dockerignore\n`);
    }
    pack.finalize();
  })();
  done.catch((err) => pack.destroy(err));
  return { pack, dockerfile: generated !== undefined ? `${GENERATED_DIR}/Dockerfile` : (spec.dockerfile as { path: string }).path, done };
}

/**
 * A failed or aborted build leaves its last committed layer untagged and without our labels
 * (the build's labels come as its last step): it is removed. Its parents are not (`noprune`):
 * they are cache layers other builds, of this daemon or another on the same engine, may be
 * building on at this moment, and pruning them breaks those builds ("unknown parent image").
 * Untagged layers nothing uses are left to `docker image prune`.
 */
async function removeLeftover(docker: Engine, layer: string | undefined): Promise<void> {
  if (!layer) return;
  try {
    const info = await docker.getImage(layer).inspect();
    if ((info.RepoTags ?? []).length === 0) await docker.getImage(layer).remove({ noprune: true });
  } catch {
    // gone already, or a parent of another image: nothing of ours to clean
  }
}

export interface TarBuild {
  context: NodeJS.ReadableStream;
  tag: string;
  dockerfile?: string;
  buildArgs?: Record<string, string>;
  labels?: Labels;
  onLine?: (line: string) => void;
  signal?: AbortSignal;
}

/** Build from a tar context. Resolves with the image id; a failed build rejects with BuildError. */
export async function buildFromTar(docker: Engine, opts: TarBuild): Promise<{ imageId: string; lines: string[] }> {
  const stream = await docker.buildImage(opts.context, {
    t: opts.tag,
    dockerfile: opts.dockerfile,
    buildargs: opts.buildArgs,
    labels: opts.labels,
    rm: true,
    forcerm: true,
    pull: false,
  } as Docker.ImageBuildOptions);
  const lines: string[] = [];
  let error: string | undefined;
  let imageId: string | undefined;
  /** The last layer the build committed (` ---> <id>`): what a failed build leaves behind. */
  let lastLayer: string | undefined;
  const onAbort = () => (stream as unknown as { destroy(e?: Error): void }).destroy(new Error('build aborted'));
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(
        stream,
        (err) => (err ? reject(err) : resolve()),
        (ev: { stream?: string; status?: string; error?: string; errorDetail?: { message?: string }; aux?: { ID?: string } }) => {
          if (ev.aux?.ID) imageId = ev.aux.ID;
          const text = ev.stream ?? ev.status;
          if (text) {
            for (const line of text.split('\n')) {
              if (!line.trim()) continue;
              const layer = /^ ---> ([0-9a-f]{12})$/.exec(line);
              if (layer) lastLayer = layer[1];
              lines.push(line);
              opts.onLine?.(line);
            }
          }
          if (ev.error) {
            error = ev.errorDetail?.message ?? ev.error;
            lines.push(error);
            opts.onLine?.(error);
          }
        },
      );
    });
  } catch (err) {
    await removeLeftover(docker, lastLayer);
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  if (opts.signal?.aborted || error) {
    await removeLeftover(docker, lastLayer);
    if (error) throw new BuildError(error, lines);
    throw opts.signal?.reason ?? new Error('build aborted');
  }
  const id = imageId ?? (await docker.getImage(opts.tag).inspect()).Id;
  return { imageId: id, lines };
}

export async function imageId(docker: Engine, ref: string): Promise<string | undefined> {
  try {
    return (await docker.getImage(ref).inspect()).Id;
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

/**
 * 404: gone already; 409: still used by a container (it goes with that container's removal).
 * An image removed by another request meanwhile can also answer 500 "unrecognized image ID":
 * that is gone too. Untagged parents stay (`noprune`, see removeLeftover): builds in progress
 * may be using them as their cache.
 */
export async function removeImage(docker: Engine, ref: string): Promise<void> {
  try {
    await idempotent(() => docker.getImage(ref).remove({ force: false, noprune: true }), [409]);
  } catch (err) {
    if (!/unrecognized image ID|No such image/i.test((err as Error).message)) throw err;
  }
}

/**
 * Remove an image this daemon built, and then its untagged ancestors that carry this instance's
 * label: the build's own LABEL steps (Docker makes one layer per label). Below those, layers are
 * shared cache (no instance label) and stay, as in removeImage. An image that keeps another tag
 * was only untagged: nothing else goes.
 */
export async function removeOwnImage(docker: Engine, ref: string, instance: string): Promise<void> {
  let info: Docker.ImageInspectInfo;
  try {
    info = await docker.getImage(ref).inspect();
  } catch {
    return removeImage(docker, ref);
  }
  await removeImage(docker, ref);
  if (await imageId(docker, info.Id)) return;
  for (let parent = info.Parent; parent; ) {
    let p: Docker.ImageInspectInfo;
    try {
      p = await docker.getImage(parent).inspect();
    } catch {
      return;
    }
    if ((p.RepoTags ?? []).length || p.Config?.Labels?.[LABEL.instance] !== instance) return;
    try {
      await docker.getImage(parent).remove({ noprune: true });
    } catch {
      return; // 409: another image is built on it
    }
    parent = p.Parent;
  }
}
