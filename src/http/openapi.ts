/**
 * /openapi.json generated from the routes' valibot schemas (hono-openapi), and /docs: Swagger UI
 * served from the swagger-ui-dist package on disk, so it works with no internet access.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Hono } from 'hono';
import { openAPIRouteHandler } from 'hono-openapi';
import { VERSION } from '../version.ts';

const UI_DIR = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>JinaD API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"><link rel="icon" href="/docs/favicon-32x32.png"></head>
<body><div id="ui"></div><script src="/docs/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#ui', deepLinking: true });</script>
</body></html>`;

export function mountOpenApi(app: Hono, tags: { name: string; description?: string }[]): void {
  app.get(
    '/openapi.json',
    openAPIRouteHandler(app, {
      documentation: {
        info: { title: 'JinaD (Daemon)', version: VERSION, description: 'REST interface for managing distributed Jina' },
        tags: [{ name: 'daemon' }, ...tags],
      },
      exclude: ['/openapi.json', '/docs', '/docs/{asset}'],
      // Validation failures are 422 in JinaD's shape, declared per route.
      defaultValidationErrorResponse: false,
    }),
  );
  app.get('/docs', (c) => c.html(PAGE));
  app.get('/docs/:asset', (c) => {
    const asset = c.req.param('asset');
    const type = ASSETS[asset];
    if (!type) return c.json({ detail: `${asset} not found` }, 404);
    return c.body(readFileSync(path.join(UI_DIR, asset)), 200, { 'content-type': type, 'cache-control': 'public, max-age=86400' });
  });
}
