/** Wire shapes shared by every resource kind (JinaD 2.0's): store status, error body, ids. */
import * as v from 'valibot';
import { daemonize, type IdKind, MalformedIdError } from './ids.ts';

/** A store's status: counters and every item by id (`GET /workspaces`, `GET /flows`, …). */
export function storeStatus<S extends v.GenericSchema>(item: S) {
  return v.object({
    time_created: v.string(),
    time_updated: v.string(),
    num_add: v.number(),
    num_del: v.number(),
    items: v.record(v.string(), item),
  });
}
export interface StoreStatus<T> {
  time_created: string;
  time_updated: string;
  num_add: number;
  num_del: number;
  items: Record<string, T>;
}

/** An error body: `{detail, body?, code}`; `code` is the daemon's stable domain code. */
export const ErrorBody = v.object({ detail: v.unknown(), body: v.optional(v.unknown()), code: v.optional(v.string()) });

/** An id of one kind (`jflow-<uuid>` or a bare uuid); the validated output is the normalised id. */
export function idOf(kind: IdKind) {
  return v.pipe(
    v.string(),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      try {
        return daemonize(dataset.value, kind);
      } catch (err) {
        if (!(err instanceof MalformedIdError)) throw err;
        addIssue({ message: `${err.message}; expected j${kind}-<uuid> or a uuid` });
        return NEVER;
      }
    }),
    v.description(`j${kind}-<uuid>, or a bare uuid`),
  );
}
