/**
 * Request validation from valibot schemas. The same schemas feed /openapi.json (hono-openapi).
 * A failure is a 422 in JinaD's shape: `detail` lists pydantic-like issues `{loc, msg, type}`.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { ValidationTargets } from 'hono';
import { validator } from 'hono-openapi';
import { invalid } from './errors.ts';

export function validate<S extends StandardSchemaV1, T extends keyof ValidationTargets>(target: T, schema: S) {
  return validator(target, schema, (result) => {
    if (result.success) return;
    const issues = (result.error ?? []) as readonly StandardSchemaV1.Issue[];
    const detail = issues.map((i) => ({
      loc: [target, ...(i.path ?? []).map((p) => (typeof p === 'object' ? p.key : p))],
      msg: i.message,
      type: 'value_error',
    }));
    throw invalid(detail.map((d) => `${d.loc.join('.')}: ${d.msg}`).join('; '), detail);
  });
}
