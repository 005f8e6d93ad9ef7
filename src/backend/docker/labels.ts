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
