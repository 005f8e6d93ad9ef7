/**
 * Log files: JSON lines appended by the daemon (build output, containers' logs) and followed
 * by any number of readers. Written once here; plugins supply the lines and the file names.
 *
 * Appended lines are written together once per event-loop turn (one write for a burst of lines,
 * not one per line), on a kept-open descriptor, and only then announced to followers: a line is
 * either on disk within the size a follower sees or still to come as an event, never both,
 * never neither. A follower reads the tail up to that size, then takes every later line from
 * in-process events, with no gap and no duplicate. Files rotate at `maxBytes`
 * (`logging.log` → `logging.log.1` …, `keep` of them).
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { LogRecord } from './contract/logs.ts';

export type { LogRecord };

/** A follower read slower than the file grew; it ends rather than holding lines without bound. */
export class FellBehindError extends Error {}

export interface FollowOptions {
  /** Send the last N lines first (default: all; 0: none). */
  tail?: number;
  /** Only lines at or after this ISO time. */
  since?: string;
  /** Keep going with new lines (default true). */
  follow?: boolean;
  signal: AbortSignal;
  /** Lines a follower may lag behind before it is ended (default 100,000). */
  maxLag?: number;
}

/** `time` fields with 9 fractional digits compare correctly as strings. */
export function nanoIso(epochSeconds: number, nanos = 0): string {
  return `${secondIso(epochSeconds)}.${String(nanos).padStart(9, '0')}Z`;
}
/**
 * Every line is stamped twice (its arrival, its source's time, which in a burst lags by a second
 * or more): the date and time to the second are kept for the two seconds last asked for, so the
 * two stamps do not make each other's again at every line.
 */
const seconds: [number, string][] = [[Number.NaN, ''], [Number.NaN, '']];
function secondIso(epochSeconds: number): string {
  const [a, b] = seconds as [[number, string], [number, string]];
  if (a[0] === epochSeconds) return a[1];
  if (b[0] === epochSeconds) return b[1];
  const made: [number, string] = [epochSeconds, new Date(epochSeconds * 1000).toISOString().slice(0, 19)];
  seconds[1] = a;
  seconds[0] = made;
  return made[1];
}
/** A time in milliseconds (now by default) as a log line's `time`. */
export const msIso = (ms = Date.now()) => nanoIso(Math.floor(ms / 1000), (ms % 1000) * 1e6);

export function normalizeTime(iso: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)?$/.exec(iso);
  if (!m) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) throw new Error(`'${iso}' is not a time`);
    return msIso(d.getTime());
  }
  if (m[3] && m[3] !== 'Z') return normalizeTime(new Date(iso).toISOString());
  return `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}Z`;
}

const timeOf = (line: string) => /"time":"([^"]+)"/.exec(line)?.[1];

/** The last `n` lines of a file (at or after `since`), reading backwards in chunks, up to `end`. */
function readTail(file: string, end: number, n: number, since?: string): string[] {
  if (n === 0 || end === 0 || !existsSync(file)) return [];
  const fd = openSync(file, 'r');
  try {
    const lines: string[] = [];
    let pos = end;
    let rest = '';
    const chunk = Buffer.alloc(64 * 1024);
    while (pos > 0 && lines.length < n) {
      const len = Math.min(chunk.length, pos);
      pos -= len;
      readSync(fd, chunk, 0, len, pos);
      const parts = (chunk.toString('utf8', 0, len) + rest).split('\n');
      rest = parts.shift()!;
      for (let i = parts.length - 1; i >= 0 && lines.length < n; i--) {
        const line = parts[i]!;
        if (!line) continue;
        if (since && (timeOf(line) ?? '') < since) return lines.reverse();
        lines.push(line);
      }
    }
    if (pos === 0 && rest && lines.length < n && !(since && (timeOf(rest) ?? '') < since)) lines.push(rest);
    return lines.reverse();
  } finally {
    closeSync(fd);
  }
}

interface OpenFile {
  fd: number;
  /** Bytes written (and announced); lines still pending are not counted. */
  size: number;
  /** Lines appended this turn, not written yet. */
  pending: string[];
  /** Arrival time of the last line appended. */
  lastTime?: string;
  /** Keys of the last RECENT lines that carry a source time, oldest first (a ring from `next`). */
  ring: (string | undefined)[];
  next: number;
  /** Lines were appended since the ring was made: it is made again from the file when next needed. */
  stale: boolean;
}

/** How many recent lines a file remembers, to find where the backend's own copy of a log goes past it. */
const RECENT = 4096;
/**
 * A line as the backend keeps it: its source time (the engine's, stamped as it read the line),
 * stream and message, hashed short so memory stays small whatever the lines.
 */
export const lineKey = (r: { source_time?: string; stream?: string; message?: string }) =>
  r.source_time ? createHash('sha1').update(`${r.source_time}\u0000${r.stream}\u0000${r.message}`).digest('base64').slice(0, 16) : undefined;

export class LogFiles {
  private files = new Map<string, OpenFile>();
  private events = new EventEmitter();
  /** Files with pending lines, and whether a flush is scheduled for the end of this turn. */
  private dirty = new Map<string, OpenFile>();
  private flushing: NodeJS.Immediate | undefined;

  constructor(private opts: { maxBytes: number; keep: number }) {
    this.events.setMaxListeners(0);
  }

  private open(file: string): OpenFile {
    let f = this.files.get(file);
    if (!f) {
      mkdirSync(path.dirname(file), { recursive: true });
      const fd = openSync(file, 'a');
      const size = fstatSync(fd).size;
      // The ring of recent lines' keys is made from the file when a backfill first needs it.
      const last = size ? readTail(file, size, 1) : [];
      f = { fd, size, pending: [], lastTime: timeOf(last.at(-1) ?? ''), ring: [], next: 0, stale: size > 0 };
      this.files.set(file, f);
    }
    return f;
  }

  /** The ring made from a file's last lines. */
  private recall(f: OpenFile, tail: string[]): void {
    f.ring = new Array(RECENT);
    f.next = 0;
    f.stale = false;
    for (const line of tail) {
      try {
        this.remember(f, lineKey(JSON.parse(line) as LogRecord));
      } catch {
        // a line cut by a crash: nothing to remember
      }
    }
  }

  private remember(f: OpenFile, key: string | undefined): void {
    if (!key) return;
    f.ring[f.next] = key;
    f.next = (f.next + 1) % RECENT;
  }

  /** Arrival time of the last line in a file (undefined when empty or missing). */
  lastTime(file: string): string | undefined {
    if (!existsSync(file) && !this.files.has(file)) return undefined;
    return this.open(file).lastTime;
  }

  /**
   * Append one record, in the order records arrive: `time` is the arrival; a source's own time,
   * which a clock may skew, is kept in `source_time` and never used to order or drop a line.
   */
  append(file: string, record: LogRecord): void {
    this.appendLine(file, JSON.stringify(record), record.time);
  }

  /** `append` for a record already made JSON (`line`, one line), `time` its arrival. */
  appendLine(file: string, line: string, time: string): void {
    const f = this.open(file);
    // No key is made here: a live line's hash would cost every line of a burst for the rare
    // backfill that needs it, which makes the ring again from the file instead.
    f.stale = true;
    f.pending.push(line);
    f.lastTime = time;
    this.dirty.set(file, f);
    this.flushing ??= setImmediate(() => this.flush());
  }

  /** Write every pending line (of one file, or all), one write per file (split only where it rotates), then announce them. */
  flush(only?: string): void {
    const dirty = only ? (this.dirty.has(only) ? [[only, this.dirty.get(only)!] as const] : []) : [...this.dirty];
    for (const [file] of dirty) this.dirty.delete(file);
    if (!this.dirty.size && this.flushing) {
      clearImmediate(this.flushing);
      this.flushing = undefined;
    }
    for (const [file, f] of dirty) {
      const lines = f.pending;
      f.pending = [];
      if (!lines.length) continue;
      // The common case, a turn's lines that fit before the file rotates: one string, one write.
      const all = `${lines.join('\n')}\n`;
      const size = Buffer.byteLength(all);
      if (f.size + size <= this.opts.maxBytes) {
        this.write(file, f, lines, all, size);
        continue;
      }
      let chunk: string[] = [];
      let bytes = 0;
      for (const line of lines) {
        const len = Buffer.byteLength(line) + 1;
        if (f.size + bytes + len > this.opts.maxBytes && f.size + bytes > 0) {
          if (chunk.length) this.write(file, f, chunk, `${chunk.join('\n')}\n`, bytes);
          [chunk, bytes] = [[], 0];
          this.rotate(file, f);
        }
        chunk.push(line);
        bytes += len;
      }
      if (chunk.length) this.write(file, f, chunk, `${chunk.join('\n')}\n`, bytes);
    }
  }

  /** Lines written in one write (`text`, `bytes` long), then announced. */
  private write(file: string, f: OpenFile, lines: string[], text: string, bytes: number): void {
    writeSync(f.fd, text);
    f.size += bytes;
    this.events.emit(file, lines); // the array is never changed after: followers may keep it
  }

  /**
   * Append the records of `batch` (a stretch of the backend's own copy of a log, in its order)
   * that come after the newest line the file already has, matched by position: the newest of
   * the file's recent lines found in the batch marks where the file stops; none found, the whole
   * batch is new. Lines the daemon wrote itself are in no batch and are passed over. Returns the
   * records written.
   */
  appendAfterLast(file: string, batch: LogRecord[]): LogRecord[] {
    const f = this.open(file);
    if (f.stale) {
      this.flush(file);
      this.recall(f, readTail(file, f.size, RECENT));
    }
    const keys = batch.map(lineKey);
    const at = new Map<string, number>();
    keys.forEach((k, i) => k && at.set(k, i)); // the last position of each key
    let from = 0;
    for (let i = 1; i <= RECENT; i++) {
      const k = f.ring[(f.next - i + RECENT) % RECENT];
      if (k === undefined) break;
      const pos = at.get(k);
      if (pos !== undefined) {
        from = pos + 1;
        break;
      }
    }
    const fresh = batch.slice(from);
    for (const r of fresh) this.append(file, r);
    // The ring was up to date before these: remembering them keeps it so (a reader of the
    // backend's copy every second, with an external Fluentd, then never reads its file back).
    for (let i = 0; i < fresh.length; i++) this.remember(f, keys[from + i]);
    f.stale = false;
    return fresh;
  }

  private rotate(file: string, f: OpenFile): void {
    closeSync(f.fd);
    rmSync(`${file}.${this.opts.keep}`, { force: true });
    for (let i = this.opts.keep - 1; i >= 1; i--) if (existsSync(`${file}.${i}`)) renameSync(`${file}.${i}`, `${file}.${i + 1}`);
    renameSync(file, `${file}.1`);
    f.fd = openSync(file, 'a');
    f.size = 0;
  }

  /** Readers following a file, or all files (departed clients must leave nothing behind). */
  followers(file?: string): number {
    if (file) return this.events.listenerCount(file);
    return this.events.eventNames().reduce((n, name) => n + this.events.listenerCount(name), 0);
  }

  /**
   * The recent tail of a file, then (unless `follow: false`) every new line, until the signal
   * aborts. A file that does not exist yet is waited for.
   */
  async *follow(file: string, opts: FollowOptions): AsyncGenerator<string> {
    for await (const batch of this.followBatches(file, opts)) yield* batch;
  }

  /**
   * `follow`, in batches: the tail, then the lines that came since the last batch was taken (a
   * burst's lines in one step, not an await per line). A batch is never empty.
   */
  async *followBatches(file: string, opts: FollowOptions): AsyncGenerator<string[]> {
    const since = opts.since ? normalizeTime(opts.since) : undefined;
    let queue: string[] = [];
    const maxLag = opts.maxLag ?? 100_000;
    let fellBehind = false;
    let lastSent: string | undefined; // the last line sent (its time is read only if the follower falls behind)
    let wake: (() => void) | undefined;
    // Written lines come as arrays shared by every follower: queued by reference or by concat, never changed.
    const onLines = (lines: string[]) => {
      if (queue.length + lines.length > maxLag) fellBehind = true;
      else queue = queue.length ? queue.concat(lines) : lines;
      wake?.();
    };
    const onAbort = () => wake?.();
    // Lines appended before this follower came are in its tail: written now, before it listens.
    this.flush(file);
    if (opts.follow !== false) this.events.on(file, onLines);
    opts.signal.addEventListener('abort', onAbort);
    try {
      // Subscribing, sizing and reading the tail happen with no await in between, and appends
      // are synchronous: every queued line comes after the tail.
      const size = this.files.get(file)?.size ?? (existsSync(file) ? statSync(file).size : 0);
      const tail = readTail(file, size, opts.tail ?? Number.POSITIVE_INFINITY, since);
      if (tail.length) yield tail;
      if (opts.follow === false) return;
      while (!opts.signal.aborted) {
        if (queue.length) {
          const batch = since ? queue.filter((line) => (timeOf(line) ?? '') >= since) : queue;
          queue = [];
          if (batch.length) {
            lastSent = batch.at(-1);
            yield batch;
          }
        }
        if (fellBehind) throw new FellBehindError(`fell more than ${maxLag} lines behind; follow again with since=${(lastSent && timeOf(lastSent)) ?? 'the time of the last line received'}`);
        if (opts.signal.aborted) break;
        if (queue.length) continue; // lines came while the batch was being sent
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    } finally {
      this.events.off(file, onLines);
      opts.signal.removeEventListener('abort', onAbort);
    }
  }

  /** Close the files under a folder that is about to be removed (a deleted workspace). */
  closeUnder(dir: string): void {
    this.flush();
    const prefix = dir.endsWith(path.sep) ? dir : `${dir}${path.sep}`;
    for (const [file, f] of this.files) {
      if (!file.startsWith(prefix)) continue;
      closeSync(f.fd);
      this.files.delete(file);
    }
  }

  close(): void {
    this.flush();
    for (const f of this.files.values()) closeSync(f.fd);
    this.files.clear();
  }
}
