/**
 * The unprivileged user objects run as: uid 10001 when the daemon runs as root, else the
 * daemon's own user (whose files the work directories already are). The runtime base image
 * knows uid 10001 as `jinad` and has its compile cache warm for it.
 */
import { lstat, lchown, readdir } from 'node:fs/promises';
import path from 'node:path';

export const OBJECT_UID = 10001;

export function objectUser(): { uid: number; gid: number } {
  const uid = process.getuid?.() ?? 0;
  return uid === 0 ? { uid: OBJECT_UID, gid: OBJECT_UID } : { uid, gid: process.getgid?.() ?? uid };
}

/** Hand a tree to the object user, without following links (a link is re-owned, never its target). */
export async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  const st = await lstat(dir).catch(() => undefined);
  if (!st) return;
  if (st.uid !== uid || st.gid !== gid) await lchown(dir, uid, gid);
  if (!st.isDirectory()) return;
  for (const name of await readdir(dir)) await chownTree(path.join(dir, name), uid, gid);
}
