/**
 * Workspaces: upload (checked, staged, queued), build (a job: image, network, `run` container),
 * delete, and reconcile with Docker after a restart.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LABEL } from '../../src/docker/labels.ts';
import { BuildError } from '../../src/docker/runtime.ts';
import { DaemonError, badRequest, conflict, engineUnavailable, isEngineUnreachable, notFound, tooLarge } from '../../src/http/errors.ts';
import { jidOf } from '../../src/ids.ts';
import type { JobContext } from '../../src/jobs.ts';
import type { PluginApi } from '../../src/plugins.ts';
import { BuildLog } from './buildlog.ts';
import { buildContext, generateDockerfile, requirementFiles } from './dockerfile.ts';
import { assertNoSymlinks, checkZip, extractZip, isZipName, safeRelative, writeInside } from './files.ts';
import { type JinadFile, JinadFileError, parseJinadFile } from './jinadfile.ts';
import type { WorkspaceRepo } from './repo.ts';
import type { WorkspaceMetadata, WorkspaceRow, WorkspaceState } from './schema.ts';
import type { WorkspaceItem } from './wire.ts';

export const BUILD_JOB = 'workspace.build';
const KIND = 'workspace';

export interface Upload {
  name: string;
  data: Buffer;
}
interface StagedUpload {
  name: string;
  /** Where the file goes in the workdir; undefined for a zip (extracted at the root). */
  rel?: string;
  staged: string;
}
interface BuildPayload {
  id: string;
  stage: string;
  uploads: StagedUpload[];
}
export interface DeleteFlags {
  container: boolean;
  network: boolean;
  files: boolean;
  everything: boolean;
}

/** What a workspace offers plugins that depend on it (flows, pods, peas). */
export interface WorkspaceService {
  get(id: string): WorkspaceItem | undefined;
  /** Whether the workspace exists (cheap: for every log line, not only for requests). */
  has(id: string): boolean;
  /** Ids of every workspace. */
  list(): string[];
  /** The workspace row, or 404; 400 unless it is ACTIVE. */
  requireActive(id: string): Promise<WorkspaceRow>;
  workdir(id: string): string;
  /** The workdir as the Docker host sees it, for bind mounts. */
  hostWorkdir(id: string): string;
  /** Called before a workspace is deleted with everything=true: remove your objects in it. */
  onDelete(fn: (id: string) => Promise<void>): void;
  /**
   * Ids of the objects you manage in a workspace, for `metadata.managed_objects`. Synchronous:
   * it runs on every GET, so answer from memory.
   */
  listManaged(fn: (id: string) => string[]): void;
}

const short = (id: string | null | undefined) => (id ? id.replace(/^sha256:/, '').slice(0, 10) : null);

/** A reason a person can act on, from whatever went wrong during a build. */
function reasonOf(err: unknown): string {
  if (err instanceof JinadFileError) return err.message;
  if (err instanceof BuildError) {
    const ours = err.lines.find((l) => l.startsWith('jinad: '));
    return ours ? ours.slice('jinad: '.length) : `docker build failed: ${err.message}`;
  }
  if (err instanceof DaemonError) return err.message;
  if (isEngineUnreachable(err)) return engineUnavailable(err).message;
  return `${(err as Error)?.message ?? String(err)}`;
}

export function createWorkspaceService(api: PluginApi, repo: WorkspaceRepo) {
  const { store, docker, jobs, config, log } = api;
  const deleteHooks: ((id: string) => Promise<void>)[] = [];
  const managedProviders: ((id: string) => string[])[] = [];
  const workdir = (id: string) => path.join(config.root, id);
  const hostWorkdir = (id: string) => path.join(api.hostRoot, id);
  const stagingDir = (id: string, stage = '') => path.join(config.root, '.staging', id, stage);
  const labelsOf = (id: string, kind = KIND) => api.labels({ [LABEL.kind]: kind, [LABEL.workspace]: id, [LABEL.object]: id });
  /**
   * Images carry only the daemon's labels: the workspace is named by the tag. Per-workspace
   * labels would add a build step that never hits the cache (~60 ms each); without them a new
   * workspace with known content is built entirely from cache, and identical workspaces share
   * one image under two tags (removing a tag keeps what another tag still uses).
   */
  const imageLabels = api.labels({ [LABEL.kind]: KIND });
  const imageTag = (id: string) => `jworkspace:${jidOf(id)}`;

  const row = (id: string) => repo.get(id);
  function mustRow(id: string): WorkspaceRow {
    const r = repo.get(id);
    if (!r) throw notFound(`${id} not found in workspace store`);
    return r;
  }
  const patch = repo.patch;

  function toItem(r: WorkspaceRow): WorkspaceItem {
    const managed = managedProviders.flatMap((p) => p(r.id));
    return {
      time_created: r.timeCreated,
      time_updated: r.timeUpdated,
      state: r.state,
      reason: r.reason,
      log_tail: r.logTail ?? [],
      queued: jobs.pending(r.id),
      metadata: { ...r.metadata, managed_objects: managed },
      arguments: r.arguments ?? null,
    };
  }

  /**
   * Check every upload (names, archives, symlinks, limits) before anything is written, stage
   * the files on disk, set the state, and queue the build behind any running one.
   */
  async function submit(id: string, uploads: Upload[]): Promise<WorkspaceItem> {
    if (uploads.length > config.limits.uploadFiles) throw tooLarge(`at most ${config.limits.uploadFiles} files per upload, got ${uploads.length}`);
    const wd = workdir(id);
    const staged: StagedUpload[] = [];
    let fileCount = 0;
    for (const [i, u] of uploads.entries()) {
      const base = safeRelative(u.name);
      if (isZipName(base)) {
        const names = await checkZip(u.data, u.name, { files: config.limits.uploadFiles, bytes: config.limits.extractedBytes });
        for (const n of names) await assertNoSymlinks(wd, n);
        fileCount += names.length;
        staged.push({ name: u.name, staged: String(i) });
      } else {
        await assertNoSymlinks(wd, base);
        fileCount++;
        staged.push({ name: u.name, rel: base, staged: String(i) });
      }
    }
    if (fileCount > config.limits.uploadFiles) throw tooLarge(`at most ${config.limits.uploadFiles} files per upload (archives included), got ${fileCount}`);

    // Check and set with no await in between: of two uploads racing for a new id, one creates
    // it and the other queues behind it as an update.
    const existing = repo.get(id);
    if (existing?.state === 'DELETING') throw conflict(`${id} is being deleted`);
    const created = !existing;
    if (created) {
      const metadata: WorkspaceMetadata = { image_id: null, image_name: null, network: null, workdir: wd, container_id: null, ports: [] };
      await repo.insert({ id, state: 'PENDING', metadata });
    } else if (existing.state === 'ACTIVE' || existing.state === 'FAILED') {
      // An update (or a retry). A build already queued or running keeps its state; this
      // upload waits behind it.
      await repo.patch(id, { state: 'PENDING', reason: null, logTail: null });
    }
    // Only a new workspace counts as an add (the original counted every update too).
    if (created) {
      await store.count(KIND, { add: 1 });
      log.info(`workspace ${id} created`);
    }

    const stage = randomUUID();
    await mkdir(stagingDir(id, stage), { recursive: true });
    for (const [i, u] of uploads.entries()) await writeFile(path.join(stagingDir(id, stage), String(i)), u.data);
    await jobs.enqueue(BUILD_JOB, id, { id, stage, uploads: staged } satisfies BuildPayload);
    return toItem(mustRow(id));
  }

  /** Move staged uploads into the workdir. Idempotent, so a resumed job can do it again. */
  async function applyUploads(p: BuildPayload, wd: string): Promise<string[]> {
    const dir = stagingDir(p.id, p.stage);
    const files: string[] = [];
    for (const u of p.uploads) {
      const src = path.join(dir, u.staged);
      if (!existsSync(src)) continue;
      if (u.rel) {
        await writeInside(wd, u.rel, await readFile(src));
        files.push(u.rel);
      } else {
        files.push(...(await extractZip(src, wd)));
      }
    }
    return files;
  }

  async function readJinad(wd: string): Promise<{ file: JinadFile; warnings: string[] }> {
    const f = path.join(wd, '.jinad');
    if (!existsSync(f)) return { file: { ports: [] }, warnings: [] };
    const parsed = parseJinadFile(await readFile(f, 'utf8'));
    if (parsed.file.dockerfile && !existsSync(path.join(wd, parsed.file.dockerfile))) {
      throw new JinadFileError('dockerfile', `'${parsed.file.dockerfile}' does not exist in the workspace`);
    }
    return parsed;
  }

  async function startRunContainer(id: string, image: string, jinad: JinadFile) {
    return docker.runContainer({
      name: id,
      image,
      network: id,
      entrypoint: ['/bin/sh', '-c', jinad.run!],
      env: { HOME: '/workspace', JINA_LOG_WORKSPACE: '/workspace/logs', JINAD_WORKSPACE_ID: id },
      binds: [`${hostWorkdir(id)}:/workspace`],
      workdir: '/workspace',
      ports: jinad.ports.map((p) => ({ container: p, host: p })),
      publishHost: config.publishHost,
      labels: labelsOf(id, 'workspace-run'),
      gpus: jinad.gpus,
    });
  }

  /** The build job: files → .jinad → image → network → `run` container → ACTIVE (or FAILED with a reason). */
  async function build(p: BuildPayload, ctx: JobContext): Promise<void> {
    const before = row(p.id);
    if (!before || before.state === 'DELETING') return;
    const wd = workdir(p.id);
    const updating = before.metadata.image_id !== null;
    await patch(p.id, { state: updating ? 'UPDATING' : 'CREATING', reason: null, logTail: null });
    const blog = new BuildLog(api.logFiles, wd, p.id);
    if (ctx.resumed) blog.line('resuming the build after a daemon restart');
    try {
      const uploaded = await applyUploads(p, wd);
      blog.line(`${uploaded.length} file(s) stored in the workspace`);
      const { file: jinad, warnings } = await readJinad(wd);
      for (const w of warnings) blog.line(w, 'warning');
      const base = await api.baseImage.ensure((l) => blog.line(`[base image] ${l}`));
      const image = imageTag(p.id);
      const context = buildContext(wd, jinad.dockerfile ?? { generated: generateDockerfile(wd, base) });
      // The network does not depend on the image: make it while the build runs.
      const networkReady = docker.ensureNetwork(p.id, labelsOf(p.id));
      networkReady.catch(() => {});
      const { imageId } = await docker.buildImage({
        context: context.pack,
        tag: image,
        dockerfile: context.dockerfilePath,
        buildargs: jinad.dockerfile ? { JINAD_BASE_IMAGE: base } : undefined,
        labels: imageLabels,
        onLine: (l) => blog.line(l),
        signal: ctx.signal,
      });
      await context.done;
      const network = await networkReady;
      // A new image means a new `run` container: the old one goes first (it may hold the ports).
      await docker.removeContainer(p.id);
      let containerId: string | null = null;
      if (jinad.run) {
        try {
          containerId = (await startRunContainer(p.id, image, jinad)).id;
        } catch (err) {
          throw badRequest(`the run container could not start: ${(err as Error).message}`);
        }
        blog.line(`run container started: ${jinad.run}`);
      }
      const oldImage = before.metadata.image_id;
      if (oldImage && !imageId.replace(/^sha256:/, '').startsWith(oldImage)) await docker.removeImage(oldImage);
      const prevFiles = before.arguments?.files ?? [];
      await patch(p.id, {
        state: 'ACTIVE',
        reason: null,
        logTail: null,
        metadata: { image_id: short(imageId), image_name: image, network: short(network), workdir: wd, container_id: short(containerId), ports: jinad.run ? jinad.ports : [] },
        arguments: {
          files: [...new Set([...prevFiles, ...uploaded])],
          jinad: { ...jinad },
          requirements: requirementFiles(wd).join(' '),
        },
      });
      blog.line('workspace is ACTIVE');
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      const reason = reasonOf(err);
      blog.line(reason, 'error');
      log.warn(`workspace ${p.id} FAILED: ${reason}`);
      await patch(p.id, { state: 'FAILED', reason, logTail: blog.tail() });
    } finally {
      // A shutdown keeps the staged files: the job runs again at the next start.
      if (!ctx.signal.aborted || !row(p.id)) await rm(stagingDir(p.id, p.stage), { recursive: true, force: true });
    }
  }

  /** Remove every Docker object labelled with this workspace, and its image tag. */
  async function removeDockerObjects(id: string): Promise<void> {
    const objs = await docker.listLabelled(api.labels({ [LABEL.workspace]: id }));
    await Promise.all(objs.containers.map((c) => docker.removeContainer(c.id)));
    await docker.removeNetwork(id);
    for (const n of objs.networks) await docker.removeNetwork(n.id);
    await docker.removeImage(imageTag(id));
  }

  async function deleteEverything(id: string): Promise<void> {
    await patch(id, { state: 'DELETING' });
    await jobs.cancel(id);
    for (const hook of deleteHooks) await hook(id);
    await removeDockerObjects(id);
    api.logFiles.closeUnder(workdir(id));
    await rm(workdir(id), { recursive: true, force: true });
    await rm(stagingDir(id), { recursive: true, force: true });
    await repo.remove(id);
    await store.count(KIND, { del: 1 });
    log.info(`workspace ${id} deleted with everything`);
  }

  async function remove(id: string, flags: DeleteFlags): Promise<void> {
    const r = mustRow(id);
    if (flags.everything) return deleteEverything(id);
    const building = jobs.pending(id) > 0;
    await jobs.cancel(id);
    const metadata = { ...r.metadata };
    const gone: string[] = [];
    if (flags.container) {
      await docker.removeContainer(id);
      metadata.container_id = null;
    }
    if (flags.network) {
      try {
        await docker.removeNetwork(id);
        metadata.network = null;
        gone.push('network');
      } catch (err) {
        log.warn(`network of ${id} kept: containers are still attached`, err);
      }
    }
    if (flags.files && existsSync(workdir(id))) {
      for (const f of await readdir(workdir(id))) {
        if (f !== 'logging.log' && f !== 'logs') await rm(path.join(workdir(id), f), { recursive: true, force: true });
      }
      gone.push('files');
    }
    // The original left such a workspace ACTIVE, and later objects failed at Docker level.
    const unusable = gone.length > 0 || building;
    const why = building ? 'its build was cancelled by DELETE' : `its ${gone.join(' and ')} removed by DELETE`;
    await patch(id, {
      metadata,
      ...(unusable ? { state: 'FAILED' as WorkspaceState, reason: `${why}; PUT /workspaces/${id} to build it again` } : {}),
    });
  }

  /** After a restart: drop orphaned Docker objects, fail builds that cannot resume, repair ACTIVE ones. */
  async function reconcile(): Promise<void> {
    const rows = repo.all();
    const known = new Set(rows.map((r) => r.id));
    const mine = await docker.listLabelled(api.labels({}));
    const tagged = mine.images.flatMap((i) => i.tags).filter((t) => t.startsWith('jworkspace:')).map((t) => `jworkspace-${t.slice('jworkspace:'.length)}`);
    const orphanIds = new Set(
      [...[...mine.containers, ...mine.networks].map((o) => o.labels[LABEL.workspace]), ...tagged].filter((w): w is string => !!w && !known.has(w)),
    );
    for (const id of orphanIds) {
      log.info(`removing Docker objects of ${id}, which is not in the store`);
      await removeDockerObjects(id);
    }
    const queued = await jobs.persistedKeys();
    for (const r of rows) {
      if (r.state === 'DELETING') await deleteEverything(r.id);
      else if ((r.state === 'PENDING' || r.state === 'CREATING' || r.state === 'UPDATING') && !queued.has(r.id)) {
        await patch(r.id, { state: 'FAILED', reason: `interrupted by restart; PUT /workspaces/${r.id} to build it again` });
      } else if (r.state === 'ACTIVE') {
        const image = r.metadata.image_name ?? '';
        if (!(await docker.imageId(image))) {
          await patch(r.id, { state: 'FAILED', reason: `image ${image} is missing from the Docker Engine; PUT /workspaces/${r.id} to rebuild it` });
          continue;
        }
        await docker.ensureNetwork(r.id, labelsOf(r.id));
        const jinad = (r.arguments?.jinad ?? { ports: [] }) as unknown as JinadFile;
        if (jinad.run && !(await docker.inspectContainer(r.id))) {
          log.info(`restarting the run container of ${r.id}`);
          const c = await startRunContainer(r.id, image, jinad);
          await patch(r.id, { metadata: { ...r.metadata, container_id: short(c.id) } });
        }
      }
    }
  }

  const service: WorkspaceService = {
    get(id) {
      const r = row(id);
      return r && toItem(r);
    },
    has: (id) => repo.get(id) !== undefined,
    list: () => repo.all().map((r) => r.id),
    async requireActive(id) {
      const r = mustRow(id);
      if (r.state !== 'ACTIVE') throw badRequest(`${id} is not ACTIVE yet (it is ${r.state}). Please retry once it becomes ACTIVE`);
      return r;
    },
    workdir,
    hostWorkdir,
    onDelete: (fn) => deleteHooks.push(fn),
    listManaged: (fn) => managedProviders.push(fn),
  };

  return {
    service,
    build,
    submit,
    remove,
    reconcile,
    item(id: string) {
      return toItem(mustRow(id));
    },
    async list() {
      const items = Object.fromEntries(repo.all().map((r) => [r.id, toItem(r)]));
      return { ...(await store.counters(KIND)), items };
    },
    async clear() {
      for (const r of repo.all()) await deleteEverything(r.id);
    },
    async statusCounts() {
      const rows = repo.all();
      const byState: Record<string, number> = {};
      for (const r of rows) byState[r.state] = (byState[r.state] ?? 0) + 1;
      return { ...(await store.counters(KIND)), size: rows.length, states: byState };
    },
  };
}
