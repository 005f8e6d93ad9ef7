/**
 * Scale to zero: an object with an idle timeout stops its containers after that many seconds
 * without a request (state `idle`); its published ports keep answering, and the first request
 * wakes it. Given as a create argument, in a Flow YAML's `with:`, a deployment file, or the
 * daemon's default; 0 (or unset) keeps the object running.
 */
import * as v from 'valibot';

/** At most a day: longer than that, an object is better left running (or deleted). */
export const MAX_IDLE_TIMEOUT = 86_400;
const PROBLEM = `idle_timeout must be a number of seconds from 0 (never idle) to ${MAX_IDLE_TIMEOUT}`;

/** Seconds as a person writes them (`30`, `0.5`, a query string), or undefined when they are not. */
export function parseIdleTimeout(raw: unknown): number | undefined {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  return Number.isFinite(n) && n >= 0 && n <= MAX_IDLE_TIMEOUT ? n : undefined;
}

/** `idle_timeout` as a create argument (query string, a Pod's body, a deployment); `null` is unset. */
export const IdleTimeoutField = v.optional(
  v.nullable(
    v.pipe(
      v.union([v.string(), v.number()], PROBLEM),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        const n = parseIdleTimeout(dataset.value);
        if (n === undefined) {
          addIssue({ message: PROBLEM });
          return NEVER;
        }
        return n;
      }),
      v.description('seconds without a request after which the object stops (state idle) until a request wakes it; 0: never'),
    ),
  ),
);
