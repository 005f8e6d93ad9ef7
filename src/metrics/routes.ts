/** `GET /metrics` (the daemon's, Prometheus' text format) and `GET /metrics/targets` (every Flow's gateway, for Prometheus' HTTP service discovery). */
import type { Hono } from 'hono';
import { describe } from '../http/describe.ts';
import type { Metrics } from './index.ts';

export function metricsRoutes(app: Hono, metrics: Metrics): void {
  app.get('/metrics', describe({ tags: ['daemon'], summary: 'Prometheus metrics of the daemon', responses: { 200: { description: 'text/plain; version=0.0.4' } } }), async (c) =>
    c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }),
  );
  app.get(
    '/metrics/targets',
    describe({ tags: ['daemon'], summary: "Every Flow's gateway, as Prometheus HTTP service-discovery targets", responses: { 200: { description: '`[{targets, labels}]`' } } }),
    (c) => c.json(metrics.targets()),
  );
}
