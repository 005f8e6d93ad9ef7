/** HTTP routes of /workspaces: parse, call the service, map. Wire-compatible with JinaD 2.0. */
import type { Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { resolver } from 'hono-openapi';
import { describe } from '../../src/http/describe.ts';
import { badRequest, invalid, tooLarge } from '../../src/http/errors.ts';
import { validate } from '../../src/http/validate.ts';
import { newId } from '../../src/ids.ts';
import type { createWorkspaceService, Upload } from './service.ts';
import { asBool, CreateQuery, DeleteQuery, ErrorBody, IdParam, WorkspaceItem, WorkspaceStoreStatus } from './wire.ts';

type Service = ReturnType<typeof createWorkspaceService>;

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
    throw badRequest(`expected multipart/form-data with a 'files' field, got '${type || 'no content-type'}'`);
  }
  let body: Record<string, unknown>;
  try {
    body = await c.req.parseBody({ all: true });
  } catch (err) {
    throw badRequest(`malformed multipart body: ${(err as Error).message}`);
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

export function workspaceRoutes(router: Hono, svc: Service, limits: { uploadBytes: number }): void {
  const limit = bodyLimit({
    maxSize: limits.uploadBytes,
    onError: () => {
      throw tooLarge(`upload larger than ${limits.uploadBytes} bytes`);
    },
  });

  router.get('/', describe({ tags: ['workspace'], summary: 'All workspaces (store status)', responses: { 200: json(WorkspaceStoreStatus, 'store status') } }), async (c) =>
    c.json(await svc.list()),
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
      const item = await svc.submit(id, await readUploads(c));
      return c.json({ [id]: item }, 201);
    },
  );

  // Registered before `/:id`, as in the original.
  router.delete('/', describe({ tags: ['workspace'], summary: 'Delete every workspace with everything', responses: { 200: { description: 'null' } } }), async (c) => {
    await svc.clear();
    return c.json(null);
  });

  router.get(
    '/:id',
    describe({ tags: ['workspace'], summary: 'One workspace', responses: { 200: json(WorkspaceItem, 'item'), 404: errors[404], 422: errors[422] } }),
    validate('param', IdParam),
    (c) => c.json(svc.item(c.req.valid('param').id)),
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
      return c.json({ [id]: await svc.submit(id, await readUploads(c)) }, 200);
    },
  );

  router.delete(
    '/:id',
    describe({ tags: ['workspace'], summary: 'Delete parts of a workspace, or everything', responses: { 200: { description: 'null' }, 404: errors[404], 422: errors[422] } }),
    validate('param', IdParam),
    validate('query', DeleteQuery),
    async (c) => {
      const q = c.req.valid('query');
      await svc.remove(c.req.valid('param').id, {
        container: asBool(q.container, true),
        network: asBool(q.network, true),
        files: asBool(q.files, true),
        everything: asBool(q.everything, false),
      });
      return c.json(null);
    },
  );
}
