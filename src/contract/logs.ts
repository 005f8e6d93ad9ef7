/** Wire shapes of the log routes: one JSON line per record, as files keep them and streams send them. */

export interface LogRecord {
  /** ISO 8601 with nanoseconds (`2026-11-29T05:12:34.123456789Z`), sortable as text. */
  time: string;
  /** stdout | stderr | build */
  stream: string;
  message: string;
  workspace_id: string;
  object_id?: string;
  level?: string;
}
