/**
 * Uploads: streamed to a staging folder (receive.ts), then every file and archive is checked
 * (names, archives, symlinks, limits) before anything reaches the work directory, and queued as
 * a build behind any running one (never dropped). The build job moves the staged files into the
 * work directory.
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fail, openInside } from 'jinad/plugin';
import { BUILD_JOB, KIND, stagingDirOf, type WorkspaceCtx, workdirOf } from './context.ts';
import { assertNoSymlinks, checkZip, extractZip, isZipName, writeInside } from './files.ts';
import type { Received } from './receive.ts';
import type { WorkspaceMetadata } from './schema.ts';

interface StagedUpload {
  name: string;
  /** Where the file goes in the workdir; undefined for a zip (extracted at the root). */
  rel?: string;
  staged: string;
}
export interface BuildPayload {
  id: string;
  stage: string;
  uploads: StagedUpload[];
}

/**
 * Check an upload already streamed into its staging folder (`stage`), then record the
 * workspace and queue its build. On a failed check the staged files go, and nothing changes.
 */
export async function submit(ctx: WorkspaceCtx, id: string, stage: string, received: Received[]): Promise<void> {
  const { config, store, jobs, log } = ctx.api;
  const { uploadFiles, extractedBytes } = config.limits;
  const wd = workdirOf(ctx, id);
  const staged: StagedUpload[] = [];
  try {
    let fileCount = 0;
    for (const u of received) {
      if (isZipName(u.rel)) {
        const names = await checkZip(u.file, u.name, { files: uploadFiles, bytes: extractedBytes });
        for (const n of names) await assertNoSymlinks(wd, n);
        fileCount += names.length;
        staged.push({ name: u.name, staged: path.basename(u.file) });
      } else {
        await assertNoSymlinks(wd, u.rel);
        fileCount++;
        staged.push({ name: u.name, rel: u.rel, staged: path.basename(u.file) });
      }
    }
    if (fileCount > uploadFiles) throw fail('upload_too_large', `at most ${uploadFiles} files per upload (archives included), got ${fileCount}`);
    if (ctx.repo.get(id)?.state === 'DELETING') throw fail('workspace_deleting', `${id} is being deleted`);
  } catch (err) {
    await rm(stagingDirOf(ctx, id, stage), { recursive: true, force: true });
    throw err;
  }

  // JinaD clients post the same files to an existing id again (a remote Executor's
  // `workspace_id`): an ACTIVE workspace with nothing queued and every file already there,
  // byte for byte, is not built again.
  const current = ctx.repo.get(id);
  if (current?.state === 'ACTIVE' && jobs.pending(id) === 0 && (await alreadyThere(wd, stagingDirOf(ctx, id, stage), staged))) {
    await rm(stagingDirOf(ctx, id, stage), { recursive: true, force: true });
    log.info(`workspace ${id}: the same files again, nothing to build`);
    return;
  }

  // Check and set with no await in between: of two uploads racing for a new id, one creates
  // it and the other queues behind it as an update.
  const existing = ctx.repo.get(id);
  if (!existing) {
    const metadata: WorkspaceMetadata = { image_id: null, image_name: null, network: null, workdir: wd, container_id: null, ports: [] };
    await ctx.repo.insert({ id, state: 'PENDING', metadata });
    // Only a new workspace counts as an add (the original counted every update too).
    await store.count(KIND, { add: 1 });
    log.info(`workspace ${id} created`);
  } else if (existing.state === 'ACTIVE' || existing.state === 'FAILED') {
    // An update (or a retry). A build already queued or running keeps its state; this upload waits behind it.
    await ctx.repo.patch(id, { state: 'PENDING', reason: null, logTail: null });
  }
  await jobs.enqueue(BUILD_JOB, id, { id, stage, uploads: staged } satisfies BuildPayload);
}

/** Whether every staged file (archives aside) is in the work directory already, byte for byte (read without following links). */
async function alreadyThere(wd: string, dir: string, staged: StagedUpload[]): Promise<boolean> {
  const digest = async (stream: NodeJS.ReadableStream) => {
    const h = createHash('sha256');
    for await (const chunk of stream) h.update(chunk as Buffer);
    return h.digest('hex');
  };
  for (const u of staged) {
    if (!u.rel) return false;
    let opened: { fd: number; size: number };
    try {
      opened = openInside(wd, u.rel);
    } catch {
      return false; // absent, a link, or not a regular file
    }
    const stagedFile = path.join(dir, u.staged);
    if ((await stat(stagedFile)).size !== opened.size) {
      closeSync(opened.fd);
      return false;
    }
    // The stream closes the descriptor when it ends.
    const [a, b] = await Promise.all([digest(createReadStream('', { fd: opened.fd })), digest(createReadStream(stagedFile))]);
    if (a !== b) return false;
  }
  return true;
}

/** Move staged uploads into the workdir. Idempotent, so a resumed job can do it again. */
export async function applyUploads(ctx: WorkspaceCtx, p: BuildPayload): Promise<string[]> {
  const wd = workdirOf(ctx, p.id);
  const dir = stagingDirOf(ctx, p.id, p.stage);
  const files: string[] = [];
  for (const u of p.uploads) {
    const src = path.join(dir, u.staged);
    if (!existsSync(src)) continue;
    if (u.rel) {
      await writeInside(wd, u.rel, createReadStream(src));
      files.push(u.rel);
    } else {
      files.push(...(await extractZip(src, wd)));
    }
  }
  return files;
}
