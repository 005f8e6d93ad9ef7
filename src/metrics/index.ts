/**
 * The daemon's metrics (`GET /metrics`, Prometheus' text format, with prom-client): one registry,
 * names with the `jinad_` prefix and base units. The core measures the API (requests by route
 * template, method and status; latency) and every backend call; plugins add theirs through the
 * `metrics` service (builds, objects, logs), and list scrape targets (each Flow's gateway) for
 * `GET /metrics/targets`, Prometheus' HTTP service discovery.
 */
import type { Context } from 'hono';
import { routePath } from 'hono/route';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Backend } from '../backend/types.ts';

/** Seconds: from a millisecond to a minute (requests, Docker calls, starts, builds). */
export const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** One Prometheus HTTP service-discovery group. */
export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

export interface Metrics {
  readonly registry: Registry;
  /** A counter (made once per name; later calls return the same one). */
  counter<L extends string>(name: string, help: string, labelNames?: readonly L[]): Counter<L>;
  histogram<L extends string>(name: string, help: string, labelNames?: readonly L[], buckets?: number[]): Histogram<L>;
  /** A gauge; `collect` sets its values when it is scraped (read from memory: it runs on every scrape). */
  gauge<L extends string>(name: string, help: string, labelNames?: readonly L[], collect?: (g: Gauge<L>) => void): Gauge<L>;
  /** Add scrape targets (e.g. every Flow's gateway) to `GET /metrics/targets`. */
  addTargets(fn: () => TargetGroup[]): void;
  targets(): TargetGroup[];
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'jinad_' });
  const sources: (() => TargetGroup[])[] = [];
  const once = <M>(name: string, make: () => M): M => (registry.getSingleMetric(name) as M | undefined) ?? make();
  return {
    registry,
    counter: (name, help, labelNames = []) => once(name, () => new Counter({ name, help, labelNames, registers: [registry] })),
    histogram: (name, help, labelNames = [], buckets = BUCKETS) => once(name, () => new Histogram({ name, help, labelNames, buckets, registers: [registry] })),
    gauge: (name, help, labelNames = [], collect) =>
      once(name, () => {
        const g: Gauge<string> = new Gauge({ name, help, labelNames, registers: [registry], collect: collect && (() => collect(g as Gauge<never>)) });
        return g;
      }),
    addTargets: (fn) => void sources.push(fn),
    targets: () => sources.flatMap((fn) => fn()),
  };
}

/**
 * Count and time requests by their route template (`/flows/:id`), not their path: ids would make
 * a series each. `record` is called by the daemon's first middleware once a request is answered.
 * On the request path it only adds to plain maps (a label set hashed by prom-client for every
 * request cost ~10 % of a GET's time); the registry reads the totals when it is scraped.
 */
export function httpMetrics(m: Metrics): (c: Context, startedAt: number) => void {
  interface Count {
    labels: Record<string, string>;
    value: number;
  }
  interface Timing {
    labels: Record<string, string>;
    /** Observations per bucket (not cumulative), the last one past every bound. */
    buckets: number[];
    sum: number;
    count: number;
  }
  const counts = new Map<string, Count>();
  const timings = new Map<string, Timing>();
  const total = 'jinad_http_requests_total';
  const duration = 'jinad_http_request_duration_seconds';
  const help = { [total]: 'API requests answered, by route template, method and status', [duration]: 'API request latency, by route template and method' };
  // Custom collectors: prom-client formats what `get` returns, as it does for its own metrics.
  m.registry.registerMetric({
    name: total,
    get: async () => ({ name: total, help: help[total], type: 'counter', aggregator: 'sum', values: [...counts.values()].map((c) => ({ labels: c.labels, value: c.value })) }),
  } as never);
  m.registry.registerMetric({
    name: duration,
    get: async () => ({
      name: duration,
      help: help[duration],
      type: 'histogram',
      aggregator: 'sum',
      values: [...timings.values()].flatMap((t) => {
        let cumulative = 0;
        return [
          ...BUCKETS.map((le, i) => ({ metricName: `${duration}_bucket`, labels: { le, ...t.labels }, value: (cumulative += t.buckets[i]!) })),
          { metricName: `${duration}_bucket`, labels: { le: '+Inf', ...t.labels }, value: t.count },
          { metricName: `${duration}_sum`, labels: t.labels, value: t.sum },
          { metricName: `${duration}_count`, labels: t.labels, value: t.count },
        ];
      }),
    }),
  } as never);
  return (c, startedAt) => {
    let route = 'unmatched';
    try {
      const p = routePath(c, -1);
      if (p && p !== '/*' && p !== '*') route = p;
    } catch {
      // no route matched
    }
    const method = c.req.method;
    const status = c.res.status;
    const key = `${method} ${route}`;
    const countKey = `${key} ${status}`;
    let n = counts.get(countKey);
    if (!n) counts.set(countKey, (n = { labels: { route, method, status: String(status) }, value: 0 }));
    n.value++;
    let t = timings.get(key);
    if (!t) timings.set(key, (t = { labels: { route, method }, buckets: new Array(BUCKETS.length + 1).fill(0), sum: 0, count: 0 }));
    const seconds = (performance.now() - startedAt) / 1000;
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
    t.buckets[i]!++;
    t.sum += seconds;
    t.count++;
  };
}

/** The backend, with every call counted by operation and outcome, and timed. */
export function measuredBackend(backend: Backend, m: Metrics): Backend {
  const calls = m.counter('jinad_backend_calls_total', 'Calls to the backend (the Docker Engine), by operation and outcome', ['operation', 'outcome']);
  const duration = m.histogram('jinad_backend_call_duration_seconds', 'Latency of backend calls, by operation', ['operation']);
  const wrapped = new Map<string, unknown>();
  return new Proxy(backend, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string' || prop === 'routeLogs') return value;
      if (!wrapped.has(prop)) {
        wrapped.set(prop, async (...args: unknown[]) => {
          const t0 = performance.now();
          try {
            const out = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            calls.inc({ operation: prop, outcome: 'ok' });
            return out;
          } catch (err) {
            calls.inc({ operation: prop, outcome: 'error' });
            throw err;
          } finally {
            duration.observe({ operation: prop }, (performance.now() - t0) / 1000);
          }
        });
      }
      return wrapped.get(prop);
    },
  });
}
