/** HTTP routes of /workspaces: parse, call the service, map. Wire-compatible with JinaD 2.0. */
import type { Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { resolver } from 'hono-openapi';
import { asBool, CreateQuery, DeleteQuery, describe, ErrorBody, fail, IdParam, invalid, newId, validate, WorkspaceItem, WorkspaceStoreStatus } from 'jinad/plugin';
import { mustRow, type WorkspaceCtx } from './context.ts';
import { deleteEverything, removeParts } from './remove.ts';
import { listItems, toItem } from './service.ts';
import { submit, type Upload } from './upload.ts';

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

/** Read the multipart field `files` fully (0..n files). */
async function readUploads(c: Context): Promise<Upload[]> {
  const type = c.req.header('content-type') ?? '';
  if (!type.startsWith('multipart/form-data')) {
    if ((await c.req.raw.clone().arrayBuffer()).byteLength === 0) return [];
    throw fail('malformed_body', `expected multipart/form-data with a 'files' field, got '${type || 'no content-type'}'`);
  }
  let body: Record<string, unknown>;
  try {
    body = await c.req.parseBody({ all: true });
  } catch (err) {
    throw fail('malformed_body', `malformed multipart body: ${(err as Error).message}`);
  }
  const raw = body.files;
  const parts = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const uploads: Upload[] = [];
  for (const p of parts) {
    if (!(p instanceof File)) throw invalid("the 'files' field must hold files, not text", [{ loc: ['body', 'files'], msg: 'expected a file', type: 'value_error' }]);
    uploads.push({ name: p.name, data: Buffer.from(await p.arrayBuffer()) });
  }
  return uploads;
}

export function workspaceRoutes(router: Hono, ctx: WorkspaceCtx): void {
  const { limits } = ctx.api.config;
  const limit = bodyLimit({
    maxSize: limits.uploadBytes,
    onError: () => {
      throw fail('upload_too_large', `upload larger than ${limits.uploadBytes} bytes`);
    },
  });
  const item = (id: string) => toItem(ctx, mustRow(ctx, id));

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
      return c.json({ [id]: await submit(ctx, id, await readUploads(c), item) }, 201);
    },
  );

  // Registered before `/:id`, as in the original.
  router.delete('/', describe({ tags: ['workspace'], summary: 'Delete every workspace with everything', responses: { 200: { description: 'null' } } }), async (c) => {
    for (const id of ctx.repo.all().map((r) => r.id)) await deleteEverything(ctx, id);
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
      return c.json({ [id]: await submit(ctx, id, await readUploads(c), item) }, 200);
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
