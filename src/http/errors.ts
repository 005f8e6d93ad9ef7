/**
 * One error type for the whole daemon, and the one place where it becomes an HTTP response.
 * Bodies keep JinaD's shapes: 400 `{detail, body}`, 404 `{detail}`, 422 `{detail: [...], body}`.
 * `code` is a stable machine-readable name; raw Docker/SQLite text goes into `body` and the log.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export const ERROR_CODES = {
  bad_request: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  invalid: 422,
  engine_unavailable: 503,
  internal: 500,
} as const satisfies Record<string, ContentfulStatusCode>;
export type ErrorCode = keyof typeof ERROR_CODES;

export class DaemonError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Details for the client: lines of the real cause (e.g. a container's last log lines). */
    readonly body?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  get status(): ContentfulStatusCode {
    return ERROR_CODES[this.code];
  }
}

export const badRequest = (msg: string, body?: unknown, cause?: unknown) => new DaemonError('bad_request', msg, body, { cause });
export const notFound = (msg: string) => new DaemonError('not_found', msg);
export const conflict = (msg: string) => new DaemonError('conflict', msg);
export const tooLarge = (msg: string) => new DaemonError('too_large', msg);
export const invalid = (msg: string, issues: unknown[] = [msg]) => new DaemonError('invalid', msg, issues);

/** Errors from the Docker client that mean "the engine is not there", not "you asked wrongly". */
export function isEngineUnreachable(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'EACCES' || code === 'ECONNRESET' || code === 'EPIPE';
}

export function engineUnavailable(cause: unknown): DaemonError {
  return new DaemonError(
    'engine_unavailable',
    'The Docker Engine is not reachable; start it (e.g. `dockerd &`) or point DOCKER_HOST at it',
    [String((cause as Error)?.message ?? cause)],
    { cause },
  );
}

/** Render any thrown value as the JinaD-shaped response. Unknown errors are 500 and logged. */
export function errorResponse(c: Context, err: unknown, log: (msg: string, err: unknown) => void): Response {
  // Hono's own 4xx (malformed JSON, …) keep their status with a JinaD-shaped body.
  if (err instanceof HTTPException && err.status < 500) return c.json({ detail: err.message, code: 'bad_request' }, err.status);
  const e = err instanceof DaemonError ? err : isEngineUnreachable(err) ? engineUnavailable(err) : undefined;
  if (!e) {
    log('unhandled error', err);
    return c.json({ detail: 'Internal Server Error', code: 'internal' }, 500);
  }
  if (e.code === 'invalid') return c.json({ detail: e.body ?? [e.message], body: e.message, code: e.code }, 422);
  if (e.body === undefined) return c.json({ detail: e.message, code: e.code }, e.status);
  return c.json({ detail: e.message, body: e.body, code: e.code }, e.status);
}
