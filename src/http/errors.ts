/**
 * Where an error becomes an HTTP response, with JinaD's bodies: 400 `{detail, body}`,
 * 404 `{detail}`, 422 `{detail: [...], body}`. The status comes from the code's row in
 * `ERROR_STATUS` (src/errors.ts); `code` is added to every body for machines.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { backendUnavailable, DaemonError, isUnreachable } from '../errors.ts';

/** Render any thrown value as the JinaD-shaped response. Unknown errors are 500 and logged. */
export function errorResponse(c: Context, err: unknown, log: (msg: string, err: unknown) => void): Response {
  // Hono's own 4xx (malformed JSON, …) keep their status with a JinaD-shaped body.
  if (err instanceof HTTPException && err.status < 500) return c.json({ detail: err.message, code: 'malformed_body' }, err.status);
  const e = err instanceof DaemonError ? err : isUnreachable(err) ? backendUnavailable(err) : undefined;
  if (!e) {
    log('unhandled error', err);
    return c.json({ detail: 'Internal Server Error', code: 'internal' }, 500);
  }
  const status = e.status as ContentfulStatusCode;
  if (status === 422) return c.json({ detail: e.body ?? [e.message], body: e.message, code: e.code }, 422);
  if (e.body === undefined) return c.json({ detail: e.message, code: e.code }, status);
  return c.json({ detail: e.message, body: e.body, code: e.code }, status);
}
