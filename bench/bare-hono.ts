/** The bare reference for bench/get-throughput.ts and bench/scale.ts: one Hono route on @hono/node-server, nothing else. */
import { readFileSync } from 'node:fs';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

// The body comes in BARE_BODY, or for a large one (over the limit of one environment variable) in the file BARE_BODY_FILE.
const body = JSON.parse(process.env.BARE_BODY_FILE ? readFileSync(process.env.BARE_BODY_FILE, 'utf8') : (process.env.BARE_BODY ?? '{}'));
const app = new Hono();
app.get('/', (c) => c.json({}));
app.get('/workspaces/:id', (c) => c.json(body));
serve({ fetch: app.fetch, hostname: '127.0.0.1', port: Number(process.env.BARE_PORT) });
