/**
 * One error type for the whole daemon, with stable domain codes. A code names the cause
 * (`workspace_not_active`, `base_image_missing`); its HTTP status is a mapping of it, made in
 * one table below, grouped by subsystem. JinaD's statuses are kept where JinaD defines them
 * (400 for a failed start, 404 for an unknown id, 422 for validation); a server
 * misconfiguration is 503, never a 4xx the client cannot act on.
 */

export const ERROR_STATUS = {
  // requests
  invalid_request: 422,
  malformed_body: 400,
  forbidden_origin: 403,
  misdirected_host: 421,
  // authentication and tokens
  unauthorized: 401,
  forbidden: 403,
  too_many_requests: 429,
  token_exists: 409,
  token_not_found: 404,
  // workspaces and uploads
  workspace_not_found: 404,
  workspace_not_active: 400,
  workspace_deleting: 409,
  workspace_busy: 409,
  invalid_upload: 400,
  upload_too_large: 413,
  body_too_large: 413,
  // objects (flows, pods, peas, and kinds added by plugins)
  object_not_found: 404,
  file_not_found: 404,
  invalid_definition: 400,
  object_start_failed: 400,
  object_update_failed: 400,
  object_unreachable: 400,
  limit_exceeded: 400,
  // deployments
  deployment_not_found: 404,
  deployment_busy: 409,
  deployment_files_missing: 400,
  deployment_plan_elsewhere: 409,
  workspace_build_failed: 400,
  // logs
  log_not_found: 404,
  // the backend and the server itself
  backend_unavailable: 503,
  network_pool_exhausted: 503,
  base_image_missing: 503,
  internal: 500,
} as const;
export type ErrorCode = keyof typeof ERROR_STATUS;

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
  get status(): (typeof ERROR_STATUS)[ErrorCode] {
    return ERROR_STATUS[this.code];
  }
}

/** `throw fail('workspace_not_active', '…')`: the one way to make a DaemonError. */
export const fail = (code: ErrorCode, message: string, body?: unknown, cause?: unknown) => new DaemonError(code, message, body, { cause });

/** A validation failure: `issues` are pydantic-like `{loc, msg, type}` (JinaD's 422 body). */
export const invalid = (message: string, issues: unknown[] = [message]) => new DaemonError('invalid_request', message, issues);

/** Errors of a client library that mean "the engine is not there", not "you asked wrongly". */
export function isUnreachable(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'EACCES' || code === 'ECONNRESET' || code === 'EPIPE';
}

export function backendUnavailable(cause: unknown, hint = 'start it (e.g. `dockerd &`) or point DOCKER_HOST at it'): DaemonError {
  return fail('backend_unavailable', `The Docker Engine is not reachable; ${hint}`, [String((cause as Error)?.message ?? cause)], cause);
}
