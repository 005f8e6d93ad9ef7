/** /tokens and /audit: admins make, list and remove tokens, and read the audit trail. */
import { and, desc, lt } from 'drizzle-orm';
import type { Hono } from 'hono';
import * as v from 'valibot';
import { fail } from '../errors.ts';
import { describe } from '../http/describe.ts';
import { validate } from '../http/validate.ts';
import type { Store } from '../store/db.ts';
import { audit } from './schema.ts';
import { SCOPES, TOKEN_NAME, type TokenService } from './tokens.ts';

const Name = v.pipe(v.string(), v.regex(TOKEN_NAME, "1–64 letters, digits, '.', '_' or '-'"));
const CreateToken = v.strictObject({
  name: Name,
  scope: v.picklist(SCOPES),
  /** `30d`, `12h`, … or an ISO time; absent: never expires. */
  expires: v.optional(v.nullable(v.pipe(v.string(), v.minLength(1)))),
});
const Int = (max: number) => v.optional(v.pipe(v.string(), v.regex(/^\d{1,9}$/, 'expected a whole number'), v.transform(Number), v.minValue(1), v.maxValue(max)));
const AuditQuery = v.object({ limit: Int(1000), before: Int(1e9) });

export function authRoutes(app: Hono, d: { tokens: TokenService; store: Store }): void {
  const tags = ['auth'];
  app.get('/tokens', describe({ tags, summary: 'Every token (never its secret)', responses: { 200: { description: '[{name, scope, created, expires}]' } } }), (c) => c.json(d.tokens.list()));
  app.post(
    '/tokens',
    describe({ tags, summary: 'Make a token; the answer is the only time its text is shown', responses: { 201: { description: '{token, name, scope, created, expires}' }, 409: { description: 'the name is taken' } } }),
    validate('json', CreateToken),
    async (c) => {
      const body = c.req.valid('json');
      return c.json(await d.tokens.create({ name: body.name, scope: body.scope, expires: body.expires ?? undefined }), 201);
    },
  );
  app.delete(
    '/tokens/:name',
    describe({ tags, summary: 'Remove a token: it is refused from now on', responses: { 200: { description: '{name}' }, 404: { description: 'no such token' } } }),
    validate('param', v.object({ name: Name })),
    async (c) => {
      const { name } = c.req.valid('param');
      if (!(await d.tokens.remove(name))) throw fail('token_not_found', `no token named '${name}'`);
      return c.json({ name });
    },
  );
  app.get(
    '/audit',
    describe({ tags, summary: 'Mutating calls, newest first: time, token name, address, method, path, status', responses: { 200: { description: '[{seq, time, token, address, method, path, status}]' } } }),
    validate('query', AuditQuery),
    async (c) => {
      const q = c.req.valid('query');
      const rows = await d.store.db
        .select()
        .from(audit)
        .where(and(q.before ? lt(audit.seq, q.before) : undefined))
        .orderBy(desc(audit.seq))
        .limit(q.limit ?? 100);
      return c.json(rows);
    },
  );
}
