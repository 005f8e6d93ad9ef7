/**
 * The build job: staged files → work directory → `.jinad` → image → network → `run` object →
 * ACTIVE, or FAILED with a reason a person can act on. One at a time per workspace.
 */
import { closeSync, lstatSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { backendUnavailable, BuildError, DaemonError, fail, isUnreachable, type JobContext, mergeResources, openInside, readInside, RetryLater, UnsafePathError } from 'jinad/plugin';
import { BuildLog } from './buildlog.ts';
import { buildLogOf, imageTagOf, short, stagingDirOf, type WorkspaceCtx, workdirOf } from './context.ts';
import { excludedFromBuild, generateDockerfile, needsPython, requirementsOf } from './dockerfile.ts';
import { type JinadFile, JinadFileError, parseJinadFile, resourcesOf } from './jinadfile.ts';
import { applyUploads, type BuildPayload } from './upload.ts';

/** A reason a person can act on, from whatever went wrong during a build. */
function reasonOf(err: unknown): string {
  if (err instanceof JinadFileError) return err.message;
  if (err instanceof BuildError) {
    // A build step's own words (`jinad: …`), as it wrote them (stderr comes coloured: the colour is dropped).
    const ours = err.lines.map((l) => l.replace(/\u001b\[[0-9;]*m/g, '').trim()).find((l) => l.startsWith('jinad: '));
    return ours ? ours.slice('jinad: '.length) : `docker build failed: ${err.message}`;
  }
  if (err instanceof DaemonError || err instanceof UnsafePathError) return err.message;
  if (isUnreachable(err)) return backendUnavailable(err).message;
  return `${(err as Error)?.message ?? String(err)}`;
}

/** `.jinad` and the Dockerfile it names, read as a user's files in a folder containers write (no link followed). */
function readJinad(wd: string): { file: JinadFile; given: Record<string, string>; warnings: string[] } {
  if (!present(wd, '.jinad')) return { file: { ports: [] }, given: {}, warnings: [] };
  // A refused .jinad (a link, not a regular file) fails the build with the UnsafePathError's reason.
  const parsed = parseJinadFile(readInside(wd, '.jinad', { maxBytes: 64 * 1024 }));
  const dockerfile = parsed.file.dockerfile;
  if (dockerfile) {
    if (!present(wd, dockerfile)) throw new JinadFileError('dockerfile', `'${dockerfile}' does not exist in the workspace`);
    try {
      closeSync(openInside(wd, dockerfile, 'Dockerfile').fd);
    } catch (err) {
      if (err instanceof UnsafePathError) throw new JinadFileError('dockerfile', err.message);
      throw err;
    }
  }
  return parsed;
}

/** Whether a name exists in the workspace, a link included (not followed: what it is gets checked by safe-files). */
const present = (wd: string, rel: string) => {
  try {
    lstatSync(path.join(wd, rel));
    return true;
  } catch {
    return false;
  }
};

/** The workspace's own `run` command as an object named after the workspace, publishing `.jinad` ports. */
export function startRunObject(ctx: WorkspaceCtx, id: string, image: string, jinad: JinadFile) {
  return ctx.api.backend.runObject({
    id,
    kind: 'workspace-run',
    workspaceId: id,
    image,
    command: ['/bin/sh', '-c', jinad.run!],
    env: { HOME: '/workspace', JINA_LOG_WORKSPACE: '/workspace/logs', JINAD_WORKSPACE_ID: id },
    workdir: workdirOf(ctx, id),
    ports: jinad.ports.map((p) => ({ container: p, host: p })),
    gpus: jinad.gpus,
    resources: mergeResources(resourcesOf(jinad), ctx.api.config.containerLimits),
    restart: jinad.restart,
  });
}

/** While the backend is down, a build waits this long between tries. */
const RETRY_MS = 2000;

export async function build(ctx: WorkspaceCtx, p: BuildPayload, job: JobContext): Promise<void> {
  const { api, repo } = ctx;
  const { backend } = api;
  const before = repo.get(p.id);
  if (!before || before.state === 'DELETING') return;
  // A retry waits for the backend quietly: the item keeps the reason of the last try.
  if (job.attempt > 0) await backend.ping().catch(() => Promise.reject(new RetryLater(RETRY_MS)));
  const wd = workdirOf(ctx, p.id);
  const updating = before.metadata.image_id !== null;
  await repo.patch(p.id, { state: updating ? 'UPDATING' : 'CREATING', reason: null, logTail: null });
  const blog = new BuildLog(api.logFiles, buildLogOf(ctx, p.id), p.id);
  const metrics = api.use('metrics');
  const builds = metrics.counter('jinad_workspace_builds_total', 'Workspace builds, by outcome (active, failed)', ['outcome']);
  const buildSeconds = metrics.histogram('jinad_workspace_build_duration_seconds', 'Time a workspace build took (files in place to ACTIVE or FAILED)');
  const t0 = performance.now();
  let retrying = false;
  if (job.resumed) blog.line('resuming the build after a daemon restart');
  try {
    await mkdir(wd, { recursive: true });
    const uploaded = await applyUploads(ctx, p);
    blog.line(`${uploaded.length} file(s) stored in the workspace`);
    // Objects run unprivileged: the work directory must be theirs to write (logs, caches).
    await backend.prepareWorkdir(wd);
    const { file: jinad, given, warnings } = readJinad(wd);
    for (const w of warnings) blog.line(w, 'warning');
    // A workspace that brings Python builds FROM the base image with this machine's Python and pip.
    const python = !jinad.dockerfile && needsPython(wd, jinad.python);
    const base = python ? await backend.ensurePythonImage((l) => blog.line(`[base image] ${l}`)) : await backend.ensureBaseImage((l) => blog.line(`[base image] ${l}`));
    const image = imageTagOf(p.id);
    // The network does not depend on the image: make it while the build runs.
    const networkReady = backend.isolate(p.id);
    networkReady.catch(() => {});
    const { imageId } = await backend.buildImage({
      workspaceId: p.id,
      tag: image,
      dir: wd,
      exclude: excludedFromBuild,
      dockerfile: jinad.dockerfile ? { path: jinad.dockerfile } : { text: generateDockerfile(wd, base, ctx.api.config.pip) },
      buildArgs: jinad.dockerfile ? { JINAD_BASE_IMAGE: base } : undefined,
      onLine: (l) => blog.line(l),
      signal: job.signal,
    });
    const network = await networkReady;
    // A new image means a new `run` object: the old one goes first (it may hold the ports).
    await backend.removeObject(p.id);
    let runRef: string | null = null;
    if (jinad.run) {
      try {
        const run = await startRunObject(ctx, p.id, image, jinad);
        api.use('live').set(run);
        runRef = run.ref;
      } catch (err) {
        throw fail('object_start_failed', `the run container could not start: ${(err as Error).message}`);
      }
      blog.line(`run container started: ${jinad.run}`);
    }
    const oldImage = before.metadata.image_id;
    if (oldImage && !imageId.replace(/^sha256:/, '').startsWith(oldImage)) await backend.removeImage(oldImage);
    const prevFiles = before.arguments?.files ?? [];
    // Built: the staged files are not needed again, and are gone by the time it says ACTIVE.
    await rm(stagingDirOf(ctx, p.id, p.stage), { recursive: true, force: true });
    await repo.patch(p.id, {
      state: 'ACTIVE',
      reason: null,
      logTail: null,
      metadata: { image_id: short(imageId), image_name: image, network: short(network), workdir: wd, container_id: short(runRef), ports: jinad.run ? jinad.ports : [] },
      arguments: { files: [...new Set([...prevFiles, ...uploaded])], jinad: given, jinad_parsed: { ...jinad }, requirements: requirementsOf(wd) },
    });
    blog.line('workspace is ACTIVE');
    builds.inc({ outcome: 'active' });
    buildSeconds.observe((performance.now() - t0) / 1000);
  } catch (err) {
    if (job.signal.aborted) throw err;
    // The backend is down: FAILED with the reason now, and built when it is back (staged files kept).
    retrying = isUnreachable(err);
    const reason = `${reasonOf(err)}${retrying ? '; the build runs again when it is back' : ''}`;
    blog.line(reason, 'error');
    api.log.warn(`workspace ${p.id} FAILED: ${reason}`);
    await repo.patch(p.id, { state: 'FAILED', reason, logTail: blog.tail() });
    builds.inc({ outcome: 'failed' });
    buildSeconds.observe((performance.now() - t0) / 1000);
    if (retrying) throw new RetryLater(RETRY_MS, reason);
  } finally {
    // A shutdown or a retry keeps the staged files: the job runs again.
    if (!retrying && (!job.signal.aborted || !repo.get(p.id))) await rm(stagingDirOf(ctx, p.id, p.stage), { recursive: true, force: true });
  }
}
