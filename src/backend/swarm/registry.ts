/**
 * The registry every node pulls workspace images from. A workspace image `jworkspace:<uuid>` is
 * pushed as `<registry>/jworkspace-<uuid>:latest`: one repository per workspace, so deleting its
 * manifest (the registry API deletes by digest) never takes another workspace's tag with it,
 * even when two workspaces built the same image.
 */
import type { Engine } from '../docker/engine.ts';

/** `jworkspace:<uuid>` → `<registry>/jworkspace-<uuid>:latest`; other references stay as they are. */
export function registryRef(registry: string, tag: string): string {
  const m = /^(jworkspace):([0-9a-f-]+)$/.exec(tag);
  return m ? `${registry}/${m[1]}-${m[2]}:latest` : tag;
}

/** Tag a local image with its registry reference and push it; a push that fails says why (the registry's words). */
export async function pushImage(docker: Engine, local: string, ref: string, onLine?: (line: string) => void): Promise<void> {
  const at = ref.lastIndexOf(':');
  await docker.getImage(local).tag({ repo: ref.slice(0, at), tag: ref.slice(at + 1) });
  // The engine wants an X-Registry-Auth header even for a registry without authentication.
  const stream = await docker.getImage(ref).push({ authconfig: { serveraddress: ref.slice(0, ref.indexOf('/')) } } as object);
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, out: { error?: string; errorDetail?: { message?: string } }[]) => {
        const failed = err?.message ?? out.find((o) => o.error)?.error;
        if (failed) reject(new Error(`pushing ${ref} to the registry failed: ${failed}`));
        else resolve();
      },
      (ev: { status?: string; id?: string; error?: string }) => {
        if (ev.status && onLine && /Pushed|digest|Mounted|exists/.test(ev.status)) onLine(`${ev.id ? `${ev.id}: ` : ''}${ev.status}`);
      },
    );
  });
}

const MANIFEST_TYPES = ['application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'].join(', ');

/** Delete a pushed reference's manifest from the registry (HTTP API v2); absent is fine. */
export async function deleteFromRegistry(ref: string): Promise<void> {
  const m = /^([^/]+)\/(.+):([^:/]+)$/.exec(ref);
  if (!m) return;
  const [, host, repo, tag] = m;
  const base = `http://${host}/v2/${repo}/manifests`;
  const head = await fetch(`${base}/${tag}`, { method: 'HEAD', headers: { accept: MANIFEST_TYPES }, signal: AbortSignal.timeout(10_000) });
  if (head.status === 404) return;
  const digest = head.headers.get('docker-content-digest');
  if (!head.ok || !digest) throw new Error(`the registry at ${host} did not give ${repo}:${tag}'s digest (HTTP ${head.status})`);
  const del = await fetch(`${base}/${digest}`, { method: 'DELETE', signal: AbortSignal.timeout(10_000) });
  if (!del.ok && del.status !== 404) throw new Error(`the registry at ${host} refused to delete ${repo}:${tag} (HTTP ${del.status}; is storage.delete.enabled set?)`);
}

/** Resolves when the registry answers its API; rejects saying how to fix it. */
export async function pingRegistry(registry: string): Promise<void> {
  let status: number;
  try {
    status = (await fetch(`http://${registry}/v2/`, { signal: AbortSignal.timeout(5000) })).status;
  } catch (err) {
    throw new Error(
      `cannot reach the registry at ${registry} (${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}).\n` +
        '  Start one every node can reach (Debian: `docker-registry serve config.yml`), and set backend.registry / JINAD_REGISTRY to its host:port.',
      { cause: err },
    );
  }
  if (status !== 200 && status !== 401) throw new Error(`the registry at ${registry} answered HTTP ${status} to GET /v2/`);
}
