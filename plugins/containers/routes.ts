/**
 * The routes of one object kind, JinaD 2.0's contract: list, arguments, create (201 with the id
 * as a JSON string), get, delete, delete all; and for flows and pods `rolling_update` and `scale`.
 */
import { toJsonSchema } from '@valibot/to-json-schema';
import type { Context, Hono } from 'hono';
import { resolver } from 'hono-openapi';
import * as v from 'valibot';
import { describe } from '../../src/http/describe.ts';
import { badRequest, invalid } from '../../src/http/errors.ts';
import { validate } from '../../src/http/validate.ts';
import { ErrorBody } from '../../src/http/wire.ts';
import type { ObjectKind } from './schema.ts';
import type { ObjectService } from './service.ts';
import { ContainerItem, ContainerStoreStatus, Envs, envsOf, FlowArguments, idOf, PodArguments, PodNameQuery, ScaleQuery } from './wire.ts';

const json = (schema: Parameters<typeof resolver>[0], description: string) => ({ description, content: { 'application/json': { schema: resolver(schema) } } });
const errors = {
  400: json(ErrorBody, '`{detail, body}`: the runtime error and the container’s last log lines'),
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
    throw badRequest(`malformed JSON in the request body: ${(err as Error).message}`);
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('the body must be a JSON object: the new uses_with');
  return body as Record<string, unknown>;
}

export function objectRoutes(router: Hono, svc: ObjectService, kind: ObjectKind): void {
  const tags = [kind];
  const Id = v.object({ id: idOf(kind) });
  const argumentsSchema = kind === 'flow' ? FlowArguments : PodArguments;
  const argumentProperties = (toJsonSchema(argumentsSchema, { errorMode: 'ignore' }) as { properties: object }).properties;

  router.get('/', describe({ tags, summary: `All ${kind}s (store status, live container states)`, responses: { 200: json(ContainerStoreStatus, 'store status') } }), async (c) =>
    c.json(await svc.list()),
  );
  router.get('/arguments', describe({ tags, summary: `The arguments a ${kind} accepts (JSON schema properties)` }), (c) => c.json(argumentProperties));

  const createDoc = describe({
    tags,
    summary: kind === 'flow' ? 'Start a Flow from a YAML in the workspace' : `Start a ${kind} from its arguments (JSON body)`,
    description: 'Waits until the object is running; returns its id. On failure: 400 with the cause and the container’s last log lines, and nothing is left behind.',
    responses: { 201: { description: `the new j${kind}-… id, as a JSON string` }, ...errors },
  });
  if (kind === 'flow') {
    const Query = v.object({ workspace_id: idOf('workspace'), filename: v.pipe(v.string(), v.minLength(1), v.description('the Flow YAML, relative to the workspace')), envs: Envs });
    router.post('/', createDoc, validate('query', Query), async (c) => {
      const q = c.req.valid('query');
      return c.json(await svc.create({ workspaceId: q.workspace_id, filename: q.filename, envs: envsOf(q.envs) }), 201);
    });
  } else {
    const Query = v.object({ workspace_id: idOf('workspace'), envs: Envs });
    router.post('/', createDoc, validate('query', Query), validate('json', PodArguments), async (c) => {
      const q = c.req.valid('query');
      return c.json(await svc.create({ workspaceId: q.workspace_id, args: c.req.valid('json'), envs: envsOf(q.envs) }), 201);
    });
  }

  // Registered before `/:id`, as in the original.
  router.delete('/', describe({ tags, summary: `Delete every ${kind}`, responses: { 200: { description: 'null' } } }), async (c) => {
    await svc.clear();
    return c.json(null);
  });
  router.get('/:id', describe({ tags, summary: `One ${kind}, with its live container state`, responses: { 200: json(ContainerItem, 'item'), ...errors } }), validate('param', Id), async (c) =>
    c.json(await svc.get(c.req.valid('param').id)),
  );
  router.delete('/:id', describe({ tags, summary: `Stop and remove a ${kind}`, responses: { 200: { description: 'null' }, ...errors } }), validate('param', Id), async (c) => {
    await svc.remove(c.req.valid('param').id);
    return c.json(null);
  });

  if (kind === 'pea') return;
  const needsPod = (q: { pod_name?: string }) => {
    if (kind === 'flow' && !q.pod_name) throw invalid('pod_name is required: the executor of the Flow to update', [{ loc: ['query', 'pod_name'], msg: 'required', type: 'value_error' }]);
    return q.pod_name;
  };
  router.put(
    '/rolling_update/:id',
    describe({ tags, summary: 'Replace replicas one by one with new uses_with (JSON body); no request fails meanwhile', responses: { 200: { description: 'the id' }, ...errors } }),
    validate('param', Id),
    validate('query', PodNameQuery),
    async (c) => {
      const q = c.req.valid('query');
      const usesWith = await usesWithBody(c);
      if (q.dump_path) usesWith.dump_path = q.dump_path;
      return c.json(await svc.rollingUpdate(c.req.valid('param').id, usesWith, needsPod(q)));
    },
  );
  router.put(
    '/scale/:id',
    describe({ tags, summary: 'Change the number of replicas in place', responses: { 200: { description: 'the id' }, ...errors } }),
    validate('param', Id),
    validate('query', ScaleQuery),
    async (c) => {
      const q = c.req.valid('query');
      return c.json(await svc.scale(c.req.valid('param').id, Number(q.replicas), needsPod(q)));
    },
  );
}
