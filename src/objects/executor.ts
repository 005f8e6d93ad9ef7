/**
 * An executor object from its JSON arguments (as an executor entry of a Flow YAML): checked as
 * the runtime will read them, then published on `port_in` (the same host port when it is
 * given, else one the backend picks).
 */
import { executorSpec } from '../runtime/config.ts';
import type { CreateInput, PreparedObject } from './kind.ts';

const PORT_IN = 8081;
const PLACEMENT = new Set(['host', 'port_jinad', 'host_in', 'host_out', 'https', 'token', 'cacert', 'constraints']);

/** Prepare for `defineObjectKind`: an executor object (`mode` pod or pea) from its JSON arguments. */
export function prepareExecutor(mode: 'pod' | 'pea', { body, envs }: CreateInput, { workdir, env, python }: { workdir: string; env: Record<string, string>; python?: boolean }): PreparedObject {
  // `null` is "unset" (a Jina-built payload carries one for every option not given); the
  // object's identity is its new id, as JinaD sets it.
  // Where to place it was the client's business: an object made here runs here. A Jina-built
  // payload carries `host: 0.0.0.0` and `port_jinad: 8000`, which would read as a remote executor.
  const args: Record<string, unknown> = Object.fromEntries(Object.entries(body ?? {}).filter(([k, v]) => v !== null && !PLACEMENT.has(k)));
  if (env.JINAD_OBJECT_ID) args.identity = env.JINAD_OBJECT_ID;
  const spec = executorSpec(args, { dir: workdir, where: `${mode} arguments`, env, root: workdir, python });
  const fixed = typeof args.port_in === 'number' ? args.port_in : undefined;
  args.port_in = fixed ?? PORT_IN;
  return { ports: [{ container: args.port_in as number, host: fixed }], partialBody: { [mode]: args, envs }, record: { args: body }, replicas: { [spec.name]: mode === 'pea' ? 1 : spec.replicas } };
}
