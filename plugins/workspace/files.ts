/**
 * Uploaded files and zip archives may only land inside the workspace directory.
 * Everything is checked before anything is written: absolute names, `..`, backslashes,
 * reserved names, symlinks in archives, and symlinks already on the way in the workdir.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import yauzl from 'yauzl';
import { fail } from 'jinad/plugin';

const badRequest = (msg: string) => fail('invalid_upload', msg);
const tooLarge = (msg: string) => fail('upload_too_large', msg);

/** Names the daemon itself writes in a workspace: uploads must not overwrite them. */
const RESERVED = [/^logging\.log$/, /^logs(\/|$)/, /^\.jinad\.build(\/|$)/];

/** A safe relative path for a name from a client, or a 400 saying why not. */
export function safeRelative(name: string, what = 'file name'): string {
  if (!name || name.includes('\0')) throw badRequest(`invalid ${what} '${name}'`);
  if (name.includes('\\')) throw badRequest(`${what} '${name}' contains a backslash; use '/'`);
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name)) throw badRequest(`${what} '${name}' is absolute; it must stay inside the workspace`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw badRequest(`${what} '${name}' climbs out of the workspace ('..')`);
  if (parts.length === 0) throw badRequest(`invalid ${what} '${name}'`);
  const rel = parts.join('/');
  if (RESERVED.some((r) => r.test(rel))) throw badRequest(`${what} '${name}' is reserved for the daemon's own files`);
  return rel;
}

/** 400 if an existing component on the way to `rel` inside `workdir` is a symlink. */
export async function assertNoSymlinks(workdir: string, rel: string): Promise<void> {
  let cur = workdir;
  for (const part of rel.split('/')) {
    cur = path.join(cur, part);
    try {
      const st = await lstat(cur);
      if (st.isSymbolicLink()) throw badRequest(`'${rel}' would be written through the symlink '${path.relative(workdir, cur)}'`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
  }
}

/** Write a file inside `workdir`, never following a symlink on the way. */
export async function writeInside(workdir: string, rel: string, data: Buffer | Uint8Array, mode = 0o644): Promise<void> {
  await assertNoSymlinks(workdir, rel);
  await mkdir(path.dirname(path.join(workdir, rel)), { recursive: true });
  await assertNoSymlinks(workdir, rel); // mkdir may race with a container writing the same tree
  const fh = await open(path.join(workdir, rel), constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, mode);
  try {
    await fh.writeFile(data);
  } finally {
    await fh.close();
  }
}

export const isZipName = (name: string) => /\.zip$/i.test(name);

interface ZipEntry {
  name: string;
  dir: boolean;
  size: number;
  mode: number;
  read(): Promise<Buffer>;
}

function openZip(buf: Buffer): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) =>
    yauzl.fromBuffer(buf, { lazyEntries: true, validateEntrySizes: true, strictFileNames: true }, (err, zip) => (err ? reject(err) : resolve(zip!))),
  );
}

/** Walk a zip's entries; yauzl itself rejects absolute and `..` names. */
async function eachEntry(buf: Buffer, fn: (e: ZipEntry) => Promise<void>): Promise<void> {
  const zip = await openZip(buf);
  await new Promise<void>((resolve, reject) => {
    zip.on('error', reject);
    zip.on('end', resolve);
    zip.on('entry', (entry: yauzl.Entry) => {
      const unixMode = (entry.externalFileAttributes >>> 16) & 0o177777;
      const e: ZipEntry = {
        name: entry.fileName,
        dir: entry.fileName.endsWith('/'),
        size: entry.uncompressedSize,
        mode: unixMode,
        read: () =>
          new Promise((res, rej) =>
            zip.openReadStream(entry, (err, stream) => {
              if (err) return rej(err);
              const chunks: Buffer[] = [];
              stream!.on('data', (c: Buffer) => chunks.push(c));
              stream!.on('end', () => res(Buffer.concat(chunks)));
              stream!.on('error', rej);
            }),
          ),
      };
      fn(e).then(() => zip.readEntry(), reject);
    });
    zip.readEntry();
  });
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

/** Check a zip without writing anything: names, symlinks, entry count and expanded size. */
export async function checkZip(buf: Buffer, name: string, limits: { files: number; bytes: number }): Promise<string[]> {
  const names: string[] = [];
  let bytes = 0;
  try {
    await eachEntry(buf, async (e) => {
      if ((e.mode & S_IFMT) === S_IFLNK) throw badRequest(`archive '${name}' contains a symlink '${e.name}'; symlinks are not extracted`);
      const rel = safeRelative(e.name, `entry of '${name}'`);
      if (e.dir) return;
      bytes += e.size;
      names.push(rel);
      if (names.length > limits.files) throw tooLarge(`archive '${name}' has more than ${limits.files} files`);
      if (bytes > limits.bytes) throw tooLarge(`archive '${name}' expands to more than ${limits.bytes} bytes`);
    });
  } catch (err) {
    if ((err as { status?: number }).status) throw err;
    throw badRequest(`'${name}' is not a valid zip archive: ${(err as Error).message}`);
  }
  return names;
}

/** Extract a zip (checked by checkZip first) into `workdir`. Returns the files written. */
export async function extractZip(file: string, workdir: string): Promise<string[]> {
  const written: string[] = [];
  await eachEntry(await readFile(file), async (e) => {
    if ((e.mode & S_IFMT) === S_IFLNK) return;
    const rel = safeRelative(e.name);
    if (e.dir) {
      await assertNoSymlinks(workdir, rel);
      await mkdir(path.join(workdir, rel), { recursive: true });
      return;
    }
    const perm = e.mode & 0o777;
    await writeInside(workdir, rel, await e.read(), perm & 0o100 ? 0o755 : 0o644);
    written.push(rel);
  });
  return written;
}
