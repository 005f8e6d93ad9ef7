/**
 * Slows guessing: an address that failed authentication `max` times within `windowMs` is
 * refused (429, Retry-After) until the oldest of those failures leaves the window. It is asked
 * before a token is checked, so a throttled guesser learns nothing about its guesses. Memory is
 * bounded: at most `max` times per address and `maxAddresses` addresses (the stalest go first).
 */
export interface Throttle {
  /** Whether any address has failed lately (when not, no address needs asking about). */
  readonly idle: boolean;
  /** Seconds to wait when `address` is throttled now, else 0. */
  retryAfter(address: string, now?: number): number;
  fail(address: string, now?: number): void;
}

export function createThrottle(opts: { max: number; windowMs: number; maxAddresses?: number }): Throttle {
  const { max, windowMs, maxAddresses = 10_000 } = opts;
  const failures = new Map<string, number[]>();
  const recent = (address: string, now: number) => {
    const times = failures.get(address);
    if (!times) return undefined;
    while (times.length && times[0]! <= now - windowMs) times.shift();
    if (!times.length) failures.delete(address);
    return times.length ? times : undefined;
  };
  return {
    get idle() {
      return failures.size === 0;
    },
    retryAfter(address, now = Date.now()) {
      const times = recent(address, now);
      if (!times || times.length < max) return 0;
      return Math.max(1, Math.ceil((times[0]! + windowMs - now) / 1000));
    },
    fail(address, now = Date.now()) {
      const times = recent(address, now) ?? [];
      times.push(now);
      if (times.length > max) times.shift();
      failures.delete(address); // re-inserted last: the map's order is least recently failed first
      failures.set(address, times);
      if (failures.size > maxAddresses) failures.delete(failures.keys().next().value!);
    },
  };
}
