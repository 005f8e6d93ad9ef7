/** The bare reference for bench/get-throughput.ts: one Hono route on @hono/node-server, nothing else. */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const body = JSON.parse(process.env.BARE_BODY ?? '{}');
const app = new Hono();
app.get('/', (c) => c.json({}));
app.get('/workspaces/:id', (c) => c.json(body));
serve({ fetch: app.fetch, hostname: '127.0.0.1', port: Number(process.env.BARE_PORT) });
