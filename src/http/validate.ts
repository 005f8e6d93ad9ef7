/**
 * Request validation from valibot schemas; the same schemas feed /openapi.json (the metadata
 * hono-openapi's generator reads is attached to this middleware). `param` and `query` are
 * validated synchronously (valibot is synchronous; an async middleware costs throughput on
 * every request); `json` reads the body first.
 * A failure is a 422 in JinaD's shape: `detail` lists pydantic-like issues `{loc, msg, type}`.
 */
import type { Context, Env, MiddlewareHandler, ValidationTargets } from 'hono';
import { uniqueSymbol, validator } from 'hono-openapi';
import * as v from 'valibot';
import { fail, invalid } from '../errors.ts';

type Target = 'param' | 'query' | 'json';

function check<S extends v.GenericSchema>(target: Target, schema: S, value: unknown): v.InferOutput<S> {
  const r = v.safeParse(schema, value);
  if (r.success) return r.output;
  const detail = r.issues.map((i) => ({
    loc: [target, ...(i.path ?? []).map((p) => p.key as string | number)],
    msg: i.message,
    type: 'value_error',
  }));
  throw invalid(detail.map((d) => `${d.loc.join('.')}: ${d.msg}`).join('; '), detail);
}

/** A query as hono's validator shapes it: a repeated key becomes an array. */
function queryOf(c: Context): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, vals] of Object.entries(c.req.queries())) out[k] = vals.length === 1 ? vals[0]! : vals;
  return out;
}

export function validate<T extends Target, S extends v.GenericSchema>(
  target: T,
  schema: S,
): MiddlewareHandler<Env, string, { in: { [K in T]: v.InferInput<S> & ValidationTargets[K] }; out: { [K in T]: v.InferOutput<S> } }> {
  const meta = (validator(target, schema) as unknown as Record<symbol, unknown>)[uniqueSymbol];
  const mw: MiddlewareHandler = (c, next) => {
    if (target !== 'json') {
      c.req.addValidatedData(target, check(target, schema, target === 'param' ? c.req.param() : queryOf(c)) as object);
      return next();
    }
    return (async () => {
      if (!/^application\/([a-z.+-]*\+)?json/i.test(c.req.header('content-type') ?? '')) {
        throw fail('malformed_body', "expected a JSON body with 'content-type: application/json'");
      }
      let body: unknown;
      try {
        body = await c.req.json();
      } catch (err) {
        throw fail('malformed_body', `malformed JSON in the request body: ${(err as Error).message}`);
      }
      c.req.addValidatedData('json', check('json', schema, body) as object);
      await next();
    })();
  };
  return Object.assign(mw, { [uniqueSymbol]: meta }) as never;
}
