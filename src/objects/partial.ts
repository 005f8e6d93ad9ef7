/**
 * Talking to the partial daemon inside an object (src/runtime/partial.ts): wait until it
 * answers, call it, and read its failures (`{detail, body: [lines]}`).
 */
import type { Backend } from '../backend/types.ts';
import { fail } from '../errors.ts';

/** The partial daemon's port inside every object (each has its own network namespace, so it never clashes). */
export const PARTIAL_PORT = 8000;
const CALL_TIMEOUT_MS = 10_000;

export async function partialCall(uri: string, method: string, pathAndQuery: string, body?: unknown, timeoutMs = CALL_TIMEOUT_MS) {
  const res = await fetch(`${uri}${pathAndQuery}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, json };
}

export function partialError(json: unknown): { detail: string; lines: string[] } {
  const j = json as { detail?: unknown; body?: unknown };
  const detail = typeof j?.detail === 'string' ? j.detail : typeof json === 'string' ? json : JSON.stringify(json);
  const lines = Array.isArray(j?.body) ? (j.body as string[]) : [];
  return { detail, lines };
}

/** Between tries while a partial daemon starts: short, since every start (and every wake) waits for this. */
const POLL_MS = 10;
/** How often, meanwhile, the backend is asked whether the object still runs. */
const INSPECT_MS = 200;

/** Wait until the partial daemon answers; fail at once if the object stops, or after `timeoutMs`. */
export async function waitReady(backend: Backend, id: string, kind: string, uri: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let inspected = Date.now();
  for (;;) {
    if (signal?.aborted) throw signal.reason ?? new Error('aborted');
    try {
      const res = await fetch(`${uri}/`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() - inspected >= INSPECT_MS) {
      inspected = Date.now();
      const state = await backend.inspectObject(id);
      if (!state?.running) throw fail('object_start_failed', `the ${kind} stopped before it was ready (exit code ${state?.exitCode ?? 'unknown'})`);
    }
    if (Date.now() > deadline) throw fail('object_start_failed', `the ${kind} did not answer within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
