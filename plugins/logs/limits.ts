/**
 * What one object may put in its log: lines per second (a token bucket per object, five
 * seconds' worth deep) and bytes per line. Nothing over a limit goes silently: a cut line says
 * how long it was, and lines not kept are counted and said in the object's log a second later.
 */

const BURST_SECONDS = 5;
const MARKER_DELAY_MS = 1000;
const PRUNE_AT = 1024;

/** `line` cut to `max` bytes (UTF-8, never inside a character), with a marker; unchanged when it fits. */
export function cutLine(line: string, max: number, total = Buffer.byteLength(line)): string {
  if (total <= max) return line;
  let kept = Buffer.from(line).subarray(0, max).toString('utf8');
  if (kept.endsWith('\uFFFD')) kept = kept.slice(0, -1); // a character cut in half
  return `${kept} … [jinad: line cut at ${max} of ${total} bytes, logs.maxLineBytes]`;
}

interface Bucket {
  tokens: number;
  at: number;
  dropped: number;
  timer?: NodeJS.Timeout;
}

export class RateLimit {
  private buckets = new Map<string, Bucket>();

  /** `say(key, dropped)` writes the note that `dropped` lines of `key` were not kept. */
  constructor(
    private perSecond: number,
    private say: (key: string, dropped: number) => void,
  ) {}

  /** Whether one more line of `key` is kept now. */
  admit(key: string, now = Date.now()): boolean {
    const depth = this.perSecond * BURST_SECONDS;
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= PRUNE_AT) this.prune(now);
      this.buckets.set(key, (b = { tokens: depth, at: now, dropped: 0 }));
    }
    b.tokens = Math.min(depth, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return true;
    }
    if (!b.dropped++) {
      const bucket = b;
      bucket.timer = setTimeout(() => {
        const n = bucket.dropped;
        bucket.dropped = 0;
        bucket.timer = undefined;
        this.say(key, n);
      }, MARKER_DELAY_MS);
      bucket.timer.unref();
    }
    return false;
  }

  /** Buckets that have refilled hold nothing a new one would not: let them go (objects come and go). */
  private prune(now: number): void {
    for (const [key, b] of this.buckets) if (!b.timer && now - b.at >= BURST_SECONDS * 1000) this.buckets.delete(key);
  }

  close(): void {
    for (const b of this.buckets.values()) clearTimeout(b.timer);
    this.buckets.clear();
  }
}
