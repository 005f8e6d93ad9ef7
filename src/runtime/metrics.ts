/**
 * A Flow's own metrics, served by its gateway at `GET /metrics` (Prometheus' text format, with
 * prom-client): requests by endpoint and outcome, their latency, documents processed, and the
 * time each executor takes. The daemon lists every Flow's gateway at `GET /metrics/targets`, so
 * one Prometheus scrape config covers them all.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import { type DataRequest, SUCCESS } from './protocol.ts';
import type { RequestLog } from './request-log.ts';

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function flowMetrics() {
  const registry = new Registry();
  return {
    registry,
    requests: new Counter({ name: 'jina_gateway_requests_total', help: 'Requests the gateway answered, by endpoint and outcome (ok or error)', labelNames: ['endpoint', 'outcome'], registers: [registry] }),
    duration: new Histogram({ name: 'jina_gateway_request_duration_seconds', help: 'Time from a request reaching the gateway to its answer', labelNames: ['endpoint'], buckets: BUCKETS, registers: [registry] }),
    documents: new Counter({ name: 'jina_gateway_documents_total', help: 'Documents the gateway processed, by endpoint', labelNames: ['endpoint'], registers: [registry] }),
    executor: new Histogram({ name: 'jina_executor_request_duration_seconds', help: 'Time one executor (all its replicas behind its head) took for a request', labelNames: ['executor'], buckets: BUCKETS, registers: [registry] }),
  };
}
export type FlowMetrics = ReturnType<typeof flowMetrics>;

/** What a gateway (HTTP or gRPC) does once a request is answered: count it, and log it when asked. */
export function observeRequest(
  opts: { metrics?: FlowMetrics; requestLog?: RequestLog },
  req: DataRequest,
  out: DataRequest,
  t0: number,
  via: string,
): void {
  const endpoint = req.header.execEndpoint;
  const ms = performance.now() - t0;
  const m = opts.metrics;
  if (m) {
    m.requests.inc({ endpoint, outcome: out.status.code === SUCCESS ? 'ok' : 'error' });
    m.duration.observe({ endpoint }, ms / 1000);
    m.documents.inc({ endpoint }, req.data.docs.length);
  }
  opts.requestLog?.record(`${via} → ${endpoint}`, req.data.docs.length, ms, out.status.code === SUCCESS ? undefined : out.status.description);
}
