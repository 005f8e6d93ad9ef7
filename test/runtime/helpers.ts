/** Helpers for runtime tests: fixture paths and JSON requests to a gateway. */
import { fileURLToPath } from 'node:url';

export const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/runtime/${name}`, import.meta.url));

export async function post(port: number, path: string, body: unknown, method = 'POST'): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`${method} ${path} → ${res.status} ${await res.text()}`);
  return res.json();
}

/** Send `total` docs in requests of `per` and return the set of values of one tag. */
export async function distinctTag(port: number, tag: string, total = 200, per = 10): Promise<Set<unknown>> {
  const seen = new Set<unknown>();
  for (let i = 0; i < total / per; i++) {
    const out = await post(port, '/index', { data: Array.from({ length: per }, (_, j) => ({ text: `d${i}-${j}` })) });
    for (const d of out.data.docs) seen.add(d.tags[tag]);
  }
  return seen;
}
