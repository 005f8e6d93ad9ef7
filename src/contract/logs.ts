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
}
