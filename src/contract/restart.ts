/**
 * Restart policies, in Docker's words: `no`, `on-failure[:max]` (a non-zero exit; at most `max`
 * restarts in a row), `always`. The engine carries them out (so an object comes back even while
 * the daemon is away); the daemon adds what an engine cannot do: it recreates an `always` object
 * whose container was removed, and restarts an object that stopped answering.
 */
import * as v from 'valibot';

export interface RestartPolicy {
  name: 'no' | 'on-failure' | 'always';
  /** on-failure only: restarts in a row before giving up (unset: no limit). */
  max?: number;
}

export const DEFAULT_RESTART = 'on-failure';
const PATTERN = /^(no|always|on-failure(:[1-9][0-9]{0,3})?)$/;

export function parseRestart(text: string = DEFAULT_RESTART): RestartPolicy {
  if (!PATTERN.test(text)) throw new Error(`restart must be no, on-failure, on-failure:<max> or always (got '${text}')`);
  const [name, max] = text.split(':') as [RestartPolicy['name'], string | undefined];
  return max ? { name, max: Number(max) } : { name };
}

/** `restart` as a create argument (query, or a Pod's body); `null` means the default. */
export const RestartField = v.optional(
  v.nullable(
    v.pipe(
      v.string(),
      v.regex(PATTERN, 'restart must be no, on-failure, on-failure:<max> or always'),
      v.description('what to do when the object exits: no, on-failure[:max] (default), always'),
    ),
  ),
);
