/**
 * The dashboard at /ui: one page and its script and styles, served from this folder (no CDN,
 * works offline), signing in with an API token. The page drives the REST API with that token;
 * live states come from `GET /ui/events`, a server-sent event stream that pushes a snapshot of
 * every workspace and object whenever one changes (the user never polls), and logs follow
 * through `GET /logs/{id}?follow=true`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { definePlugin } from 'jinad/plugin';
import { snapshotEvents } from './snapshot.ts';

const asset = (name: string) => readFileSync(fileURLToPath(new URL(`./assets/${name}`, import.meta.url)), 'utf8');
const TYPES: Record<string, string> = { 'app.js': 'text/javascript; charset=utf-8', 'style.css': 'text/css; charset=utf-8' };

export default definePlugin({
  name: 'ui',
  prefix: '/ui',
  dependsOn: ['workspace', 'flow', 'pod', 'pea'],
  description: 'The dashboard',
  setup(api) {
    const files = { page: asset('index.html'), 'app.js': asset('app.js'), 'style.css': asset('style.css') };
    const headers = { 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' };
    api.router.get('/', (c) => c.html(files.page, 200, { ...headers, 'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'" }));
    api.router.get('/assets/:name', (c) => {
      const name = c.req.param('name') as keyof typeof files;
      if (!(name in TYPES)) return c.json({ detail: `${name} not found` }, 404);
      return c.body(files[name], 200, { ...headers, 'content-type': TYPES[name]! });
    });
    api.router.get('/events', snapshotEvents(api));
  },
});
