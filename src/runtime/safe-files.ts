/**
 * Reading a user's files inside a folder that others can write (a workspace's work directory
 * is mounted read-write into containers running user code). A path is checked twice:
 *  - by name: relative, no `..` out of the folder, not absolute;
 *  - on the opened descriptor: the last component is opened without following a symlink
 *    (O_NOFOLLOW), and the descriptor's real path (/proc/self/fd) must lie inside the folder's
 *    real path, so a symlinked parent directory, or one swapped in after a check, is caught too.
 * Only regular files are read (a FIFO or a device never blocks or leaks), up to a size limit.
 */
import { closeSync, constants, fstatSync, openSync, readlinkSync, readSync, realpathSync } from 'node:fs';
import path from 'node:path';

/** A path that leaves its folder, or a file that may not be read. The message names the user's path, never a file's content. */
export class UnsafePathError extends Error {}

/** The absolute path of `rel` inside `root`, or UnsafePathError when the name leaves it. */
export function resolveInside(root: string, rel: string, what = 'path'): string {
  if (!rel || rel.includes('\0')) throw new UnsafePathError(`invalid ${what} '${rel}'`);
  if (path.isAbsolute(rel)) throw new UnsafePathError(`${what} '${rel}' is absolute; it must be a path inside the workspace`);
  const abs = path.resolve(root, rel);
  if (abs !== root && !abs.startsWith(`${root}${path.sep}`)) throw new UnsafePathError(`${what} '${rel}' must be a path inside the workspace`);
  return abs;
}

/** The real path an open descriptor refers to (Linux); undefined elsewhere. */
function realPathOf(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/**
 * Open a regular file inside `root` for reading, checked on the descriptor. `file` is absolute
 * (already inside root by name) or relative to root. The caller closes the descriptor.
 */
export function openInside(root: string, file: string, what = 'file'): { fd: number; size: number; mode: number } {
  const abs = path.isAbsolute(file) ? file : resolveInside(root, file, what);
  const shown = path.relative(root, abs) || abs;
  let fd: number;
  try {
    fd = openSync(abs, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new UnsafePathError(`${what} '${shown}' is a symlink; the daemon does not follow links in a workspace`);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new UnsafePathError(`${what} '${shown}' not found in the workspace`);
    throw err;
  }
  try {
    const real = realPathOf(fd);
    const realRoot = realpathSync(root);
    if (real !== undefined && !real.startsWith(`${realRoot}${path.sep}`)) {
      throw new UnsafePathError(`${what} '${shown}' leads outside the workspace (through a symlinked folder)`);
    }
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UnsafePathError(`${what} '${shown}' is not a regular file`);
    return { fd, size: st.size, mode: st.mode };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** Read a file inside `root` (see openInside): its bytes and mode, refusing files over `maxBytes`. */
export function readBytesInside(root: string, file: string, opts: { what?: string; maxBytes?: number } = {}): { data: Buffer; mode: number } {
  const what = opts.what ?? 'file';
  const { fd, size, mode } = openInside(root, file, what);
  try {
    const max = opts.maxBytes ?? 1024 * 1024;
    if (size > max) throw new UnsafePathError(`${what} '${path.relative(root, path.resolve(root, file))}' is larger than ${max} bytes`);
    const data = Buffer.alloc(size);
    let read = 0;
    while (read < size) {
      const n = readSync(fd, data, read, size - read, read);
      if (n === 0) break;
      read += n;
    }
    return { data: data.subarray(0, read), mode };
  } finally {
    closeSync(fd);
  }
}

/** Read a file inside `root` (see openInside) as UTF-8 text, refusing files over `maxBytes` (1 MiB by default). */
export function readInside(root: string, file: string, opts: { what?: string; maxBytes?: number } = {}): string {
  return readBytesInside(root, file, opts).data.toString('utf8');
}
