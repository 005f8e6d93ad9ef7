/**
 * Labels on every Docker object the daemon makes. They are the truth about what runs:
 * the database records intent, start-up reconciles the two, tests clean up by them.
 */
export const LABEL = {
  /** Which daemon made it (several daemons may share one engine). */
  instance: 'io.jinad.instance',
  /** Resource kind: workspace, flow, pod, pea, base-image, … */
  kind: 'io.jinad.kind',
  /** The workspace it belongs to. */
  workspace: 'io.jinad.workspace',
  /** The object's own id. */
  object: 'io.jinad.object',
  /** A derived runtime image (the Python one): the base image it was built FROM. */
  from: 'io.jinad.from',
} as const;

export type Labels = Record<string, string>;

/** The label recording a container's direct ports (`{"8000/tcp": 41233}`): the engine knows nothing of them. */
export const DIRECT_PORTS_LABEL = 'io.jinad.direct-ports';

/** A container's direct ports as its labels record them. */
export function directPortsOf(labels: Record<string, string> | undefined): Record<string, number> {
  const raw = labels?.[DIRECT_PORTS_LABEL];
  if (!raw) return {};
  try {
    const parsed = JSON.parse(raw) as Record<string, number>;
    return Object.fromEntries(Object.entries(parsed).filter(([k, v]) => /^\d+\/tcp$/.test(k) && Number.isInteger(v)));
  } catch {
    return {};
  }
}
