/**
 * A gateway's request log: each request as its own line while the Flow is quiet, and under load
 * the first few of each second as lines with the rest summed up in one line when the second
 * ends. A line per request at thousands per second is noise nobody reads, and in a container
 * every line crosses the engine's log pipe and the daemon's collector: at 8 requests in flight
 * that took half a core, a third of what the Flow itself used (docs/benchmarks.md §5). Metrics
 * still count every request.
 */

/** Requests logged one by one in each second; the rest of that second is one summary line. */
export const LINES_PER_SECOND = 10;
const WINDOW_MS = 1000;

interface Held {
  count: number;
  docs: number;
  errors: number;
  /** Calls, e.g. `POST /index → /index` or `gRPC Call → /search`, and how many of each. */
  calls: Map<string, number>;
  maxMs: number;
}

export class RequestLog {
  private windowStart = 0;
  private logged = 0;
  private held?: Held;
  private timer?: NodeJS.Timeout;

  constructor(private readonly write: (line: string) => void) {}

  /** `call`: how it came and where it went (`POST /index → /index`); `error`: the failure's description. */
  record(call: string, docs: number, ms: number, error?: string): void {
    const now = performance.now();
    if (now - this.windowStart >= WINDOW_MS) {
      this.flush();
      this.windowStart = now;
      this.logged = 0;
    }
    if (this.logged < LINES_PER_SECOND) {
      this.logged++;
      this.write(`${call}: ${docs} docs, ${error === undefined ? 'ok' : `ERROR ${error}`} in ${ms.toFixed(1)} ms`);
      return;
    }
    const h = (this.held ??= { count: 0, docs: 0, errors: 0, calls: new Map(), maxMs: 0 });
    h.count++;
    h.docs += docs;
    if (error !== undefined) h.errors++;
    h.calls.set(call, (h.calls.get(call) ?? 0) + 1);
    h.maxMs = Math.max(h.maxMs, ms);
    // Said when the second ends, even if no request comes after it.
    this.timer ??= setTimeout(() => this.flush(), Math.max(0, WINDOW_MS - (now - this.windowStart))).unref();
  }

  /** Say what was held back (at the end of its second, or when the gateway closes); the next request starts a new second. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const h = this.held;
    if (!h) return;
    this.held = undefined;
    this.windowStart = 0;
    const calls = [...h.calls].map(([call, n]) => `${call}: ${n}`).join(', ');
    this.write(`… and ${h.count} more requests in that second (${calls}): ${h.docs} docs, ${h.errors ? `${h.errors} ERROR` : 'all ok'}, slowest ${h.maxMs.toFixed(1)} ms`);
  }
}
