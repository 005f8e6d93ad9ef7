/**
 * The routes of one object kind, JinaD 2.0's contract: list, arguments, create (201 with the id
 * as a JSON string), get, delete, delete all; and, for kinds that allow updates,
 * `rolling_update` and `scale`.
 */
import { toJsonSchema } from '@valibot/to-json-schema';
import type { Context, Hono } from 'hono';
import { resolver } from 'hono-openapi';
import * as v from 'valibot';
import { ErrorBody, idOf } from '../contract/common.ts';
import { ResourceFields } from '../contract/resources.ts';
import { IdleTimeoutField } from '../contract/idle.ts';
import { ConstraintsField } from '../contract/placement.ts';
import { RestartField } from '../contract/restart.ts';
import { Envs, LegacyUpdateQuery, ObjectItem, ObjectStoreStatus, PodNameQuery, ScaleQuery } from '../contract/objects.ts';
import { fail, invalid } from '../errors.ts';
import { describe } from '../http/describe.ts';
import { validate } from '../http/validate.ts';
import type { ObjectKindSpec, ObjectService } from './kind.ts';

const json = (schema: Parameters<typeof resolver>[0], description: string) => ({ description, content: { 'application/json': { schema: resolver(schema) } } });
const errors = {
  400: json(ErrorBody, '`{detail, body}`: the runtime error and the object’s last log lines'),
  404: json(ErrorBody, 'unknown object, workspace or file'),
  422: json(ErrorBody, 'malformed id, query or body'),
};

/** The JSON body of an update: `uses_with`, optional. */
async function usesWithBody(c: Context): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (!text.trim()) return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw fail('malformed_body', `malformed JSON in the request body: ${(err as Error).message}`);
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('the body must be a JSON object: the new uses_with');
  return body as Record<string, unknown>;
}

export function objectRoutes(router: Hono, svc: ObjectService, spec: ObjectKindSpec): void {
  const { kind } = spec;
  const tags = [kind];
  const Id = v.object({ id: idOf(kind) });
  const argumentProperties = (toJsonSchema(spec.arguments, { errorMode: 'ignore' }) as { properties?: object }).properties ?? {};

  router.get('/', describe({ tags, summary: `All ${kind}s (store status, live states)`, responses: { 200: json(ObjectStoreStatus, 'store status') } }), async (c) => c.json(await svc.list()));
  router.get('/arguments', describe({ tags, summary: `The arguments a ${kind} accepts (JSON schema properties)` }), (c) => c.json(argumentProperties));

  const createDoc = describe({
    tags,
    summary: spec.create.summary,
    description: 'Waits until the object is running; returns its id. On failure: 400 with the cause and the object’s last log lines, and nothing is left behind.',
    responses: { 201: { description: `the new j${kind}-… id, as a JSON string` }, ...errors },
  });
  const Query = v.object({ workspace_id: idOf('workspace'), envs: Envs, ...ResourceFields, restart: RestartField, idle_timeout: IdleTimeoutField, constraints: ConstraintsField, ...spec.create.query });
  const create = async (c: Context, body?: Record<string, unknown>) => {
    const { workspace_id, envs, ...query } = (c.req as unknown as { valid(t: 'query'): v.InferOutput<typeof Query> }).valid('query');
    return c.json(await svc.create({ workspaceId: workspace_id, envs, query, body }), 201);
  };
  if (spec.create.body) {
    // What the query tells (the workspace) is checked before the body is read.
    const workspaceFirst = (c: Context, next: () => Promise<void>) => {
      svc.checkWorkspace((c.req as unknown as { valid(t: 'query'): { workspace_id: string } }).valid('query').workspace_id);
      return next();
    };
    router.post('/', createDoc, validate('query', Query), workspaceFirst, validate('json', spec.create.body), (c) => create(c, c.req.valid('json')));
  } else {
    router.post('/', createDoc, validate('query', Query), (c) => create(c));
  }

  // Registered before `/:id`, as in the original.
  router.delete('/', describe({ tags, summary: `Delete every ${kind}`, responses: { 200: { description: 'null' } } }), async (c) => {
    await svc.clear();
    return c.json(null);
  });
  router.get('/:id', describe({ tags, summary: `One ${kind}, with its live state`, responses: { 200: json(ObjectItem, 'item'), ...errors } }), validate('param', Id), async (c) =>
    c.json(await svc.get(c.req.valid('param').id)),
  );
  router.delete('/:id', describe({ tags, summary: `Stop and remove a ${kind}`, responses: { 200: { description: 'null' }, ...errors } }), validate('param', Id), async (c) => {
    await svc.remove(c.req.valid('param').id);
    return c.json(null);
  });

  if (!spec.updates) return;
  const podNameRequired = spec.updates.podName === 'required';
  const podName = (q: { pod_name?: string }) => {
    if (podNameRequired && !q.pod_name) throw invalid(`pod_name is required: the executor of the ${kind} to update`, [{ loc: ['query', 'pod_name'], msg: 'required', type: 'value_error' }]);
    return q.pod_name;
  };
  /** New `uses_with` from the JSON body (with `dump_path` from the query), replica by replica. */
  const rollingUpdate = async (c: Context, id: string, q: { pod_name?: string; dump_path?: string }) => {
    const usesWith = await usesWithBody(c);
    if (q.dump_path) usesWith.dump_path = q.dump_path;
    return c.json(await svc.rollingUpdate(id, usesWith, podName(q)));
  };
  router.put(
    '/rolling_update/:id',
    describe({ tags, summary: 'Replace replicas one by one with new uses_with (JSON body); no request fails meanwhile', responses: { 200: { description: 'the id' }, ...errors } }),
    validate('param', Id),
    validate('query', PodNameQuery),
    async (c) => rollingUpdate(c, c.req.valid('param').id, c.req.valid('query')),
  );
  // JinaD 2.0/2.1's single update route, beside the later two.
  router.put(
    '/:id',
    describe({ tags, summary: 'JinaD 2.0/2.1 update: `kind=rolling_update` (JSON body: uses_with) or `kind=scale&replicas=`', responses: { 200: { description: 'the id' }, ...errors } }),
    validate('param', Id),
    validate('query', LegacyUpdateQuery),
    async (c) => {
      const q = c.req.valid('query');
      const id = c.req.valid('param').id;
      if (q.kind === 'scale') {
        if (q.replicas === undefined) throw invalid('replicas is required with kind=scale', [{ loc: ['query', 'replicas'], msg: 'required', type: 'value_error' }]);
        return c.json(await svc.scale(id, Number(q.replicas), podName(q)));
      }
      return rollingUpdate(c, id, q);
    },
  );
  router.put(
    '/scale/:id',
    describe({ tags, summary: 'Change the number of replicas in place', responses: { 200: { description: 'the id' }, ...errors } }),
    validate('param', Id),
    validate('query', ScaleQuery),
    async (c) => {
      const q = c.req.valid('query');
      return c.json(await svc.scale(c.req.valid('param').id, Number(q.replicas), podName(q)));
    },
  );
}
