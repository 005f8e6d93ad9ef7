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

/**
 * The page. With authentication on it first asks for a token (kept in this tab's session
 * storage), checks it against /openapi.json, then hands it to Swagger UI for every request.
 */
const page = (auth: boolean) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>JinaD API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"><link rel="icon" href="/docs/favicon-32x32.png">
<style>#signin{font:16px sans-serif;max-width:32rem;margin:3rem auto;display:grid;gap:.5rem}#signin input{font:inherit;padding:.4rem}#signin button{font:inherit;padding:.4rem;cursor:pointer}#signin-error{color:#a00000}</style></head>
<body><form id="signin" hidden><h1>JinaD API</h1><label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="off" required>
<button type="submit">Open the API docs</button><p id="signin-error" role="alert"></p>
<p>The admin token is in <code>&lt;root&gt;/admin.token</code> on the daemon's machine; <code>jinad token create</code> makes others.</p></form>
<div id="ui"></div><script src="/docs/swagger-ui-bundle.js"></script>
<script>
const AUTH = ${auth};
const form = document.getElementById('signin');
function start(token) {
  form.hidden = true;
  window.ui = SwaggerUIBundle({
    url: '/openapi.json', dom_id: '#ui', deepLinking: true,
    requestInterceptor: (req) => { if (token) req.headers.Authorization = 'Bearer ' + token; return req; },
    onComplete: () => { if (token) window.ui.preauthorizeApiKey('bearer', token); },
  });
}
async function check(token) {
  const res = await fetch('/openapi.json', { headers: { Authorization: 'Bearer ' + token } });
  if (res.ok) return true;
  document.getElementById('signin-error').textContent = ((await res.json().catch(() => ({}))).detail) || ('HTTP ' + res.status);
  return false;
}
form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const token = document.getElementById('token').value.trim();
  if (!(await check(token))) return;
  sessionStorage.setItem('jinad-token', token);
  start(token);
});
const saved = sessionStorage.getItem('jinad-token');
if (!AUTH) start();
else if (saved) check(saved).then((ok) => (ok ? start(saved) : (form.hidden = false)));
else form.hidden = false;
</script>
</body></html>`;

export function mountOpenApi(app: Hono, tags: { name: string; description?: string }[], opts: { auth: boolean }): void {
  const html = page(opts.auth);
  app.get(
    '/openapi.json',
    openAPIRouteHandler(app, {
      documentation: {
        info: { title: 'JinaD (Daemon)', version: VERSION, description: 'REST interface for managing distributed Jina' },
        tags: [{ name: 'daemon' }, { name: 'auth', description: 'Tokens and the audit trail (admin scope)' }, ...tags],
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
        // Every route but GET / and /docs takes a bearer token (when authentication is on).
        security: opts.auth ? [{ bearer: [] }] : [],
      },
      exclude: ['/openapi.json', '/docs', '/docs/{asset}'],
      // Validation failures are 422 in JinaD's shape, declared per route.
      defaultValidationErrorResponse: false,
    }),
  );
  app.get('/docs', (c) => c.html(html));
  app.get('/docs/:asset', (c) => {
    const asset = c.req.param('asset');
    const type = ASSETS[asset];
    if (!type) return c.json({ detail: `${asset} not found` }, 404);
    return c.body(readFileSync(path.join(UI_DIR, asset)), 200, { 'content-type': type, 'cache-control': 'public, max-age=86400' });
  });
}
