/** HTTP routes of /workspaces: parse, call the service, map. Wire-compatible with JinaD 2.0. */
import { randomUUID } from 'node:crypto';
import type { Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { resolver } from 'hono-openapi';
import { asBool, CreateQuery, DeleteQuery, describe, ErrorBody, fail, IdParam, newId, validate, WorkspaceItem, WorkspaceStoreStatus } from 'jinad/plugin';
import { mustRow, stagingDirOf, type WorkspaceCtx } from './context.ts';
import { receiveUploads } from './receive.ts';
import { deleteAll, removeParts } from './remove.ts';
import { listItems, toItem } from './service.ts';
import { submit } from './upload.ts';

const json = (schema: Parameters<typeof resolver>[0], description: string) => ({ description, content: { 'application/json': { schema: resolver(schema) } } });
const errors = {
  400: json(ErrorBody, 'bad request: `{detail, body}` with the cause'),
  404: json(ErrorBody, 'unknown workspace'),
  413: json(ErrorBody, 'upload too large'),
  422: json(ErrorBody, 'malformed id or query'),
};
const filesBody = {
  required: false,
  content: {
    'multipart/form-data': {
      schema: { type: 'object' as const, properties: { files: { type: 'array' as const, items: { type: 'string' as const, format: 'binary' } } } },
    },
  },
};

export function workspaceRoutes(router: Hono, ctx: WorkspaceCtx): void {
  const { limits } = ctx.api.config;
  // A refused upload may leave part of its body unread: the connection is not reused after the answer.
  const limit = bodyLimit({
    maxSize: limits.uploadBytes,
    onError: (c) => {
      c.header('connection', 'close');
      throw fail('upload_too_large', `upload larger than ${limits.uploadBytes} bytes`);
    },
  });
  const item = (id: string) => toItem(ctx, mustRow(ctx, id));
  /** Stream the request's files to a new staging folder of the workspace, check them, queue the build. */
  const upload = async (c: Context, id: string) => {
    const stage = randomUUID();
    try {
      const received = await receiveUploads(c, stagingDirOf(ctx, id, stage), limits);
      await submit(ctx, id, stage, received);
      return item(id);
    } catch (err) {
      c.header('connection', 'close');
      throw err;
    }
  };

  router.get('/', describe({ tags: ['workspace'], summary: 'All workspaces (store status)', responses: { 200: json(WorkspaceStoreStatus, 'store status') } }), async (c) =>
    c.json(await listItems(ctx)),
  );

  router.post(
    '/',
    describe({
      tags: ['workspace'],
      summary: 'Upload files and build a workspace',
      description: 'Returns at once in PENDING; poll GET /workspaces/{id} until ACTIVE or FAILED. An existing id is updated.',
      requestBody: filesBody,
      responses: { 201: json(WorkspaceItem, '`{"<id>": item}`'), ...errors },
    }),
    limit,
    validate('query', CreateQuery),
    async (c) => {
      const q = c.req.valid('query');
      const id = q.id ?? newId('workspace');
      return c.json({ [id]: await upload(c, id) }, 201);
    },
  );

  // Registered before `/:id`, as in the original.
  router.delete('/', describe({ tags: ['workspace'], summary: 'Delete every workspace with everything', responses: { 200: { description: 'null' } } }), async (c) => {
    await deleteAll(ctx);
    return c.json(null);
  });

  router.get(
    '/:id',
    describe({ tags: ['workspace'], summary: 'One workspace', responses: { 200: json(WorkspaceItem, 'item'), 404: errors[404], 422: errors[422] } }),
    validate('param', IdParam),
    (c) => c.json(item(c.req.valid('param').id)),
  );

  router.put(
    '/:id',
    describe({
      tags: ['workspace'],
      summary: 'Upload more files and rebuild (also retries a FAILED workspace)',
      requestBody: filesBody,
      responses: { 200: json(WorkspaceItem, '`{"<id>": item}`'), ...errors },
    }),
    limit,
    validate('param', IdParam),
    async (c) => {
      const id = c.req.valid('param').id;
      return c.json({ [id]: await upload(c, id) }, 200);
    },
  );

  router.delete(
    '/:id',
    describe({ tags: ['workspace'], summary: 'Delete parts of a workspace, or everything', responses: { 200: { description: 'null' }, 404: errors[404], 422: errors[422] } }),
    validate('param', IdParam),
    validate('query', DeleteQuery),
    async (c) => {
      const q = c.req.valid('query');
      await removeParts(ctx, c.req.valid('param').id, {
        container: asBool(q.container, true),
        network: asBool(q.network, true),
        files: asBool(q.files, true),
        everything: asBool(q.everything, false),
      });
      return c.json(null);
    },
  );
}
