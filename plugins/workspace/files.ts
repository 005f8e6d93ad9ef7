/**
 * Uploaded files and zip archives may only land inside the workspace directory.
 * Everything is checked before anything is written: absolute names, `..`, backslashes,
 * reserved names, names the filesystem cannot hold (a component over 255 bytes, a path over
 * 4095), names that are not UTF-8, symlinks in archives, archives whose headers lie about their
 * sizes, and symlinks already on the way in the workdir. Archives are read from disk as
 * streams: nothing is held whole in memory.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fail } from 'jinad/plugin';
import yauzl from 'yauzl';

const badRequest = (msg: string) => fail('invalid_upload', msg);
const tooLarge = (msg: string) => fail('upload_too_large', msg);

/** Names the daemon itself writes in a workspace: uploads must not overwrite them. */
const RESERVED = [/^logging\.log$/, /^logs(\/|$)/, /^\.jinad\.build(\/|$)/];
/** What Linux filesystems hold: NAME_MAX and PATH_MAX (less the terminating NUL). */
const MAX_COMPONENT_BYTES = 255;
const MAX_PATH_BYTES = 4095;

/** A safe relative path for a name from a client, or a 400 saying why not. */
export function safeRelative(name: string, what = 'file name'): string {
  const shown = name.length > 80 ? `${name.slice(0, 60)}…(${name.length} characters)` : name;
  if (!name || name.includes('\0')) throw badRequest(`invalid ${what} '${shown}'`);
  if (name.includes('\uFFFD')) throw badRequest(`${what} '${shown}' is not valid UTF-8`);
  // A line break in a name splits the lines it is shown in (build logs, audit, listings).
  const control = /[\u0001-\u001f\u007f]/.exec(name);
  if (control) throw badRequest(`${what} ${JSON.stringify(name.length > 80 ? shown : name)} contains a control character (U+${control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')})`);
  if (name.includes('\\')) throw badRequest(`${what} '${shown}' contains a backslash; use '/'`);
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name)) throw badRequest(`${what} '${shown}' is absolute; it must stay inside the workspace`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw badRequest(`${what} '${shown}' climbs out of the workspace ('..')`);
  if (parts.length === 0) throw badRequest(`invalid ${what} '${shown}'`);
  const long = parts.find((p) => Buffer.byteLength(p) > MAX_COMPONENT_BYTES);
  if (long) throw badRequest(`${what} '${shown}' has a part of ${Buffer.byteLength(long)} bytes; a file or folder name may have at most ${MAX_COMPONENT_BYTES}`);
  const rel = parts.join('/');
  if (Buffer.byteLength(rel) > MAX_PATH_BYTES) throw badRequest(`${what} '${shown}' is ${Buffer.byteLength(rel)} bytes long; a path may have at most ${MAX_PATH_BYTES}`);
  if (RESERVED.some((r) => r.test(rel))) throw badRequest(`${what} '${shown}' is reserved for the daemon's own files`);
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

/** Write a file inside `workdir` from bytes or a stream, never following a symlink on the way. */
export async function writeInside(workdir: string, rel: string, data: Buffer | Uint8Array | NodeJS.ReadableStream, mode = 0o644): Promise<void> {
  await assertNoSymlinks(workdir, rel);
  await mkdir(path.dirname(path.join(workdir, rel)), { recursive: true });
  await assertNoSymlinks(workdir, rel); // mkdir may race with a container writing the same tree
  const fh = await open(path.join(workdir, rel), constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, mode);
  if (!(Buffer.isBuffer(data) || data instanceof Uint8Array)) return pipeline(data, fh.createWriteStream()); // the stream closes the file
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
  /** What the header says it expands to. */
  size: number;
  mode: number;
  /** The entry's bytes; yauzl checks them against the header (a lying header is an error). */
  stream(): Promise<NodeJS.ReadableStream>;
}

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true, validateEntrySizes: true, strictFileNames: true, decodeStrings: true }, (err, zip) => (err ? reject(err) : resolve(zip!))),
  );
}

/** Walk a zip's entries one at a time; yauzl itself rejects absolute and `..` names. */
async function eachEntry(file: string, fn: (e: ZipEntry) => Promise<void>): Promise<void> {
  const zip = await openZip(file);
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', resolve);
      zip.on('entry', (entry: yauzl.Entry) => {
        const e: ZipEntry = {
          name: entry.fileName,
          dir: entry.fileName.endsWith('/'),
          size: entry.uncompressedSize,
          mode: (entry.externalFileAttributes >>> 16) & 0o177777,
          stream: () => new Promise((res, rej) => zip.openReadStream(entry, (err, s) => (err ? rej(err) : res(s!)))),
        };
        fn(e).then(() => zip.readEntry(), reject);
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

/** Count a stream's bytes, failing once they pass `max`. */
async function drain(stream: NodeJS.ReadableStream, max: number, onTooMany: () => Error): Promise<number> {
  let n = 0;
  await pipeline(
    stream,
    new Writable({
      write(chunk: Buffer, _enc, done) {
        n += chunk.length;
        done(n > max ? onTooMany() : null);
      },
    }),
  );
  return n;
}

/**
 * Check a zip on disk without writing anything: names, symlinks, entry count, and the bytes it
 * really expands to (every entry is decompressed and counted, so headers that lie are caught).
 */
export async function checkZip(file: string, name: string, limits: { files: number; bytes: number }): Promise<string[]> {
  const names: string[] = [];
  let bytes = 0;
  const tooMuch = () => tooLarge(`archive '${name}' expands to more than ${limits.bytes} bytes`);
  try {
    await eachEntry(file, async (e) => {
      if ((e.mode & S_IFMT) === S_IFLNK) throw badRequest(`archive '${name}' contains a symlink '${e.name}'; symlinks are not extracted`);
      const rel = safeRelative(e.name, `entry of '${name}'`);
      if (e.dir) return;
      names.push(rel);
      if (names.length > limits.files) throw tooLarge(`archive '${name}' has more than ${limits.files} files`);
      if (bytes + e.size > limits.bytes) throw tooMuch();
      bytes += await drain(await e.stream(), limits.bytes - bytes, tooMuch);
    });
  } catch (err) {
    if ((err as { status?: number }).status) throw err;
    const why = (err as Error).message;
    if (/too many bytes|not enough bytes|expected/i.test(why)) throw badRequest(`archive '${name}' is corrupt: an entry's size does not match its header (${why})`);
    throw badRequest(`'${name}' is not a valid zip archive: ${why}`);
  }
  return names;
}

/** Extract a zip (checked by checkZip first) into `workdir`, streaming each entry. Returns the files written. */
export async function extractZip(file: string, workdir: string): Promise<string[]> {
  const written: string[] = [];
  await eachEntry(file, async (e) => {
    if ((e.mode & S_IFMT) === S_IFLNK) return;
    const rel = safeRelative(e.name);
    if (e.dir) {
      await assertNoSymlinks(workdir, rel);
      await mkdir(path.join(workdir, rel), { recursive: true });
      return;
    }
    await writeInside(workdir, rel, await e.stream(), e.mode & 0o100 ? 0o755 : 0o644);
    written.push(rel);
  });
  return written;
}
