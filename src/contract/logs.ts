/** Wire shapes of the log routes: one JSON line per record, as files keep them and streams send them. */

export interface LogRecord {
  /** When the daemon received the line: ISO 8601 with nanoseconds (`2026-11-29T05:12:34.123456789Z`), sortable as text; lines are in this order. */
  time: string;
  /** The time the source gave the line (Docker's, or a forwarder's), kept as it came. */
  source_time?: string;
  /** stdout | stderr | build */
  stream: string;
  message: string;
  workspace_id: string;
  object_id?: string;
  level?: string;
  /** Jina's log record fields, as Jina's clients format a line (`{host} {name} {type} {message}`): */
  /** where the line comes from: the object (its container's name), or `jinad` for a build line; */
  host?: string;
  /** the logger: the object's kind (`flow`, `pod`, …), `workspace` for a `run` container, `build`; */
  name?: string;
  /** the level in Jina's words: INFO (stdout, build), WARNING, ERROR (stderr, a failed build). */
  type?: string;
}

/** Jina's level name for a stream or a build line's level. */
export function jinaType(stream: string, level?: string): string {
  if (level === 'error' || (!level && stream === 'stderr')) return 'ERROR';
  if (level === 'warning') return 'WARNING';
  return 'INFO';
}
