/**
 * Warm spares for idle-enabled objects (config `idleSpares`): a create or a wake takes a spare
 * container the backend keeps started (the partial daemon, the runtime loaded, no object) and
 * starts the object in it, instead of waiting half a second for the engine to start a container.
 * A spare is made from the object's spec less what is the object's own (its id and envs): envs
 * reach it with the start request, and the partial daemon keeps them in its state file, so a
 * restart of the container runs the object again as it was.
 */
import type { ObjectSpec, ObjectState } from '../backend/types.ts';
import { endpointOf } from '../backend/types.ts';
import { parseRestart } from '../contract/restart.ts';
import { commandOf, fixedEnv, modeOf, type ObjectDeps, STATE_FILE, startInside, withOutput } from './lifecycle.ts';
import { PARTIAL_PORT } from './partial.ts';
import type { ObjectRow, StartSpec } from './schema.ts';

/** Whether objects started like this use spares: idle-enabled, one container (not spread), a backend that keeps them. */
const usesSpares = (d: ObjectDeps, startSpec: StartSpec) => d.idleSpares > 0 && Boolean(d.backend.spares) && Boolean(startSpec.idleTimeout) && !d.backend.spreadsReplicas;

/** The spec a spare for this object is made from: the object's, with only the environment every object of its workspace has. */
function spareSpec(d: ObjectDeps, id: string, workspaceId: string, startSpec: StartSpec, image: string): ObjectSpec {
  return {
    id,
    kind: d.spec.kind,
    workspaceId,
    image,
    command: commandOf(d.spec),
    env: fixedEnv(d, workspaceId),
    ports: [{ container: PARTIAL_PORT }, ...startSpec.ports.map((p) => ({ container: p.container }))],
    workdir: d.workspaces.workdir(workspaceId),
    resources: startSpec.resources ?? d.containerLimits,
    restart: parseRestart(startSpec.restart),
  };
}

/**
 * Keep spares for objects like this one (`image`: the image id it runs), from now until it is
 * removed. Called once it runs when it started without one: its own start goes first on the engine.
 */
export function wantSpares(d: ObjectDeps, id: string, workspaceId: string, startSpec: StartSpec, image: string | undefined): void {
  if (image && usesSpares(d, startSpec)) d.backend.spares!.keep(spareSpec(d, id, workspaceId, startSpec, image), d.idleSpares);
}

/** Keep spares for objects like this stored one (its image as it was made). */
export function keepSpares(d: ObjectDeps, r: ObjectRow): void {
  if (r.start) wantSpares(d, r.id, r.workspaceId, r.start, r.metadata.image_id);
}

/**
 * Start the object in a spare (its stopped container, on a wake, replaced): `image` is the image
 * id it runs, `body` what its partial daemon starts (the create request's, or the state it kept).
 * Undefined when no spare was ready (start it otherwise, then `wantSpares`); on a failed start
 * the object is removed and the error carries its output.
 */
export async function startInSpare(d: ObjectDeps, id: string, workspaceId: string, startSpec: StartSpec, image: string | undefined, body: Record<string, unknown>): Promise<{ state: ObjectState; uri: string; object: Record<string, unknown> } | undefined> {
  if (!image || !usesSpares(d, startSpec)) return undefined;
  const spec = spareSpec(d, id, workspaceId, startSpec, image);
  const state = await d.backend.spares!.claim(spec).catch((err) => {
    d.log.warn(`no spare for ${id}: ${(err as Error).message}`);
    return undefined;
  });
  if (!state) return undefined; // the caller wants spares once the object runs
  d.backend.spares!.keep(spec, d.idleSpares);
  const uri = endpointOf(state, PARTIAL_PORT) ?? '';
  // The object's own environment, which the spare's container was made without.
  const envs = { ...startSpec.env, ...(body.envs as Record<string, string> | undefined) };
  try {
    return { state, uri, object: await startInside(d, id, uri, { ...body, envs }) };
  } catch (err) {
    const failure = await withOutput(d, id, err);
    await d.backend.removeObject(id);
    throw failure;
  }
}

/**
 * An object stopped for idleness, with spares on: what its partial daemon ran (its state file)
 * is kept in the store and its container removed, so a wake only renames a spare (a removal
 * takes the engine ~70 ms) and an idle object has no container at all.
 */
export async function putAway(d: ObjectDeps, id: string): Promise<void> {
  const r = d.repo.get(id);
  const resume = r && (await savedStart(d, r));
  if (!r?.start || !resume) return;
  await d.repo.patch(id, { start: { ...r.start, resume } });
  await d.backend.removeObject(id);
  keepSpares(d, r); // removed as a container, it still wants spares for its wake
}

/** What an idle object's partial daemon ran when it stopped (its state file), as a start request; undefined when it kept none or spares are off. */
export async function savedStart(d: ObjectDeps, r: ObjectRow): Promise<Record<string, unknown> | undefined> {
  if (!r.start || !usesSpares(d, r.start)) return undefined;
  const saved = await d.backend.spares?.readFile(r.id, STATE_FILE).catch(() => undefined);
  if (!saved) return undefined;
  try {
    const { args, envs } = JSON.parse(saved.toString('utf8')) as { args: Record<string, unknown>; envs: Record<string, string> };
    return { [modeOf(d.spec)]: args, envs };
  } catch {
    return undefined;
  }
}
