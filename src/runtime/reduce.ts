/**
 * How answers that went separate ways become one: at a join (`needs: [a, b]`) and from the shards
 * of an executor polled `all`. Documents are merged by id (the first answer's order; tags, chunks
 * and matches combined), routes and parameters too, and every answer is kept as `docsMatrix`.
 */
import type { DocumentData } from './document.ts';
import { cloneRequest, type DataRequest, ERROR } from './protocol.ts';

function mergeDoc(into: DocumentData, from: DocumentData): void {
  into.tags = { ...(into.tags ?? {}), ...(from.tags ?? {}) };
  for (const key of ['matches', 'chunks'] as const) {
    const have = new Set((into[key] ?? []).map((d) => d.id));
    const extra = (from[key] ?? []).filter((d) => !have.has(d.id));
    if (extra.length) into[key] = [...(into[key] ?? []), ...extra];
  }
  for (const [k, v] of Object.entries(from)) {
    if ((into as Record<string, unknown>)[k] === undefined) (into as Record<string, unknown>)[k] = v;
  }
}

/** Join branch results: documents merged by id (first branch's order), routes and parameters combined. */
export function mergeRequests(parts: DataRequest[]): DataRequest {
  const [first, ...rest] = parts;
  const out: DataRequest = cloneRequest(first!);
  const byId = new Map(out.data.docs.map((d) => [d.id!, d]));
  for (const part of rest) {
    for (const d of part.data.docs) {
      const have = byId.get(d.id!);
      if (have) mergeDoc(have, d);
      else {
        const copy = cloneRequest(d);
        out.data.docs.push(copy);
        byId.set(d.id!, copy);
      }
    }
    const seen = new Set(out.routes.map((r) => `${r.pod}@${r.startTime}`));
    out.routes.push(...part.routes.filter((r) => !seen.has(`${r.pod}@${r.startTime}`)));
    out.parameters = { ...part.parameters, ...out.parameters };
    if (part.status.code === ERROR && out.status.code !== ERROR) out.status = part.status;
  }
  out.docsMatrix = parts.map((p) => p.data.docs);
  return out;
}

/** A join with `disable_reduce`: the first branch's request as it is, every branch as `docsMatrix` (the executor reduces). */
export function unreduced(parts: DataRequest[]): DataRequest {
  const out: DataRequest = cloneRequest(parts[0]!);
  out.docsMatrix = parts.map((p) => p.data.docs);
  for (const part of parts.slice(1)) if (part.status.code === ERROR && out.status.code !== ERROR) out.status = part.status;
  return out;
}
