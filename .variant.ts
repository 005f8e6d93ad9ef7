import { serve } from '@hono/node-server';
import { Hono } from 'hono';
const v = process.env.V ?? '';
const app = new Hono();
if (v === 'header') app.use((c, next) => { c.req.header('origin'); return next(); });
if (v === 'rawheaders') app.use((c, next) => { (c.env as any)?.incoming?.headers?.origin; return next(); });
app.get('/', (c) => c.json({}));
serve({ fetch: app.fetch, hostname: '127.0.0.1', port: Number(process.env.P) });
