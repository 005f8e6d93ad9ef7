/** Build contexts as tar streams, made from files on disk and generated text. */
import { lstat, readdir, readFile, readlink, stat } from 'node:fs/promises';
import path from 'node:path';
import tar from 'tar-stream';
import { readBytesInside } from '../../runtime/safe-files.ts';

/** A tar-stream pack, typed as the Node stream it behaves as (a streamx Pack is not a Node Readable). */
export type Pack = tar.Pack & NodeJS.ReadableStream;
export const createPack = (): Pack => tar.pack() as unknown as Pack;

function addEntry(pack: Pack, header: Partial<tar.Header> & { name: string }, body?: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry(header, body ?? '', (err) => (err ? reject(err) : resolve()));
  });
}

export const addFile = (pack: Pack, name: string, body: Buffer | string, mode = 0o644) => addEntry(pack, { name, mode, type: 'file' }, body);
export const addSymlink = (pack: Pack, name: string, linkname: string) => addEntry(pack, { name, linkname, type: 'symlink' });

/** Add a file from disk at `dest`, keeping its mode (follows a symlink to its target). */
export async function addFromDisk(pack: Pack, src: string, dest: string): Promise<void> {
  const st = await stat(src);
  await addFile(pack, dest, await readFile(src), st.mode & 0o7777);
}

/**
 * Add a directory tree under `destPrefix`. Symlinks are kept as links (never followed);
 * `skip(relPath)` leaves out a file or a whole directory. `confined`: the tree is writable by
 * others (a work directory), so each file is read through safe-files — one swapped for a link,
 * or reached through a folder swapped for a link, after the listing is refused, not followed.
 */
export async function addTree(pack: Pack, srcDir: string, destPrefix: string, skip: (rel: string) => boolean = () => false, confined = false): Promise<string[]> {
  const added: string[] = [];
  const walk = async (rel: string) => {
    const entries = await readdir(path.join(srcDir, rel), { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name)); // stable order: stable build cache
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (skip(r)) continue;
      const abs = path.join(srcDir, r);
      const dest = path.posix.join(destPrefix, r);
      const st = await lstat(abs);
      if (st.isSymbolicLink()) await addSymlink(pack, dest, await readlink(abs));
      else if (st.isDirectory()) {
        await addEntry(pack, { name: dest, type: 'directory', mode: st.mode & 0o7777 });
        await walk(r);
      } else if (st.isFile()) {
        const file = confined ? readBytesInside(srcDir, abs, { maxBytes: Number.POSITIVE_INFINITY }) : { data: await readFile(abs), mode: st.mode };
        await addFile(pack, dest, file.data, file.mode & 0o7777);
        added.push(r);
      }
    }
  };
  await walk('');
  return added;
}
