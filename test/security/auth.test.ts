/**
 * Authentication and authorization (fake backend, real HTTP): every route but liveness and the
 * docs page needs a token; scopes; expiry and removal; the admin token file; the Host check;
 * the audit trail; throttled guessing; and a token is never written to the daemon's log.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { tokens } from '../../src/auth/schema.ts';
import { ConfigError, resolveConfig } from '../../src/config.ts';
import { createWorkspace, filesForm, startFakeDaemon } from '../helpers.ts';

let d: Awaited<ReturnType<typeof startFakeDaemon>>;
let admin: string;
const logged: string[] = [];
const write = process.stderr.write.bind(process.stderr);
before(async () => {
  // Whatever the daemon logs in this file is kept, to look for tokens in it.
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    logged.push(String(chunk));
    return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  d = await startFakeDaemon({ config: { auth: true, logLevel: 'info', authThrottle: { failures: 1000 } } });
  admin = d.adminToken!;
});
after(async () => {
  process.stderr.write = write;
  await d?.cleanup();
});

const call = async (method: string, route: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) => {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${d.url}${route}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body, headers: res.headers };
};
const mint = async (name: string, scope: string, expires?: string) => {
  const r = await call('POST', '/tokens', { token: admin, body: { name, scope, expires } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.token as string;
};

describe('tokens', () => {
  it('the first start writes an admin token to <root>/admin.token, mode 0600', () => {
    assert.match(admin, /^jinad_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    assert.equal(statSync(path.join(d.root, 'admin.token')).mode & 0o777, 0o600);
  });

  it('every route but GET / and /docs answers 401 without a token, in JinaD’s error shape', async () => {
    const spec = (await call('GET', '/openapi.json', { token: admin })).body;
    const routes: [string, string][] = [];
    for (const [p, ops] of Object.entries(spec.paths as Record<string, object>)) {
      if (p === '/') continue;
      for (const method of Object.keys(ops)) routes.push([method.toUpperCase(), p.replace(/\{[^}]+\}/g, 'jworkspace-1a2b3c4d-0000-4000-8000-000000000000')]);
    }
    routes.push(['GET', '/openapi.json'], ['GET', '/no/such/route']);
    assert.ok(routes.length > 30, `only ${routes.length} routes`);
    for (const [method, route] of routes) {
      const r = await call(method, route);
      assert.equal(r.status, 401, `${method} ${route} → ${r.status}`);
      assert.equal(r.body.code, 'unauthorized');
      assert.match(r.body.detail, /Authorization: Bearer/);
      assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="jinad"');
    }
    assert.deepEqual((await call('GET', '/')).body, {});
    assert.equal((await call('GET', '/docs')).status, 200);
    assert.equal((await call('GET', '/docs/swagger-ui.css')).status, 200);
    // The spec declares the scheme, so the docs page's "Authorize" takes a token.
    assert.deepEqual(spec.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer' });
  });

  it('a bad token is 401; a read token reads but cannot write (403); write cannot manage tokens', async () => {
    assert.equal((await call('GET', '/workspaces', { token: 'jinad_0000000000000000_' + 'a'.repeat(43) })).status, 401);
    assert.equal((await call('GET', '/workspaces', { token: admin.slice(0, -1) + (admin.endsWith('a') ? 'b' : 'a') })).status, 401);
    const read = await mint('reader', 'read');
    assert.equal((await call('GET', '/workspaces', { token: read })).status, 200);
    assert.equal((await call('GET', '/status', { token: read })).status, 200);
    const post = await fetch(`${d.url}/workspaces`, { method: 'POST', headers: { authorization: `Bearer ${read}` }, body: filesForm({ 'a.txt': 'x' }) });
    const body = (await post.json()) as any;
    assert.deepEqual([post.status, body.code], [403, 'forbidden']);
    assert.match(body.detail, /'read' scope; POST \/workspaces needs 'write'/);
    assert.equal((await call('GET', '/workspaces', { token: read })).body.size ?? Object.keys((await call('GET', '/workspaces', { token: read })).body.items).length, 0);
    const writer = await mint('writer', 'write');
    assert.equal((await call('DELETE', '/workspaces', { token: writer })).status, 200);
    assert.equal((await call('GET', '/tokens', { token: writer })).status, 403);
    assert.equal((await call('POST', '/tokens', { token: writer, body: { name: 'x', scope: 'admin' } })).status, 403);
  });

  it('tokens are listed without secrets, kept only as hashes, and refused once removed', async () => {
    const t = await mint('ci', 'write', '30d');
    const list = (await call('GET', '/tokens', { token: admin })).body as any[];
    const ci = list.find((x) => x.name === 'ci');
    assert.equal(ci.scope, 'write');
    assert.ok(Date.parse(ci.expires) > Date.now() + 29 * 86400e3);
    assert.ok(!JSON.stringify(list).includes(t.slice(23)));
    const rows = await d.daemon.store.db.select().from(tokens);
    assert.ok(!JSON.stringify(rows).includes(t.slice(23)), 'the secret is not in the database');
    assert.equal((await call('POST', '/tokens', { token: admin, body: { name: 'ci', scope: 'read' } })).status, 409);
    assert.equal((await call('DELETE', '/tokens/ci', { token: admin })).status, 200);
    assert.equal((await call('GET', '/workspaces', { token: t })).status, 401);
    assert.equal((await call('DELETE', '/tokens/ci', { token: admin })).status, 404);
  });

  it('an expired token is refused; bad expiries and scopes are 422', async () => {
    const t = await mint('soon', 'read', new Date(Date.now() + 1500).toISOString());
    assert.equal((await call('GET', '/workspaces', { token: t })).status, 200);
    await new Promise((r) => setTimeout(r, 1600));
    assert.equal((await call('GET', '/workspaces', { token: t })).status, 401);
    for (const body of [{ name: 'p', scope: 'read', expires: '2001-01-01T00:00:00Z' }, { name: 'q', scope: 'read', expires: 'soon' }, { name: 'r', scope: 'root' }, { name: '../x', scope: 'read' }]) {
      const r = await call('POST', '/tokens', { token: admin, body });
      assert.equal(r.status, 422, JSON.stringify(body));
    }
  });

  it('WebSocket log streams need a token too: a header, or a jinad.bearer.<token> subprotocol', async () => {
    const { id } = await createWorkspace(d.url, { 'a.txt': 'x' }, '', { token: admin });
    const url = `${d.url.replace('http', 'ws')}/logstream/${id}`;
    const status = (ws: WebSocket) =>
      new Promise<number>((resolve) => {
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
      });
    assert.equal(await status(new WebSocket(url)), 401);
    assert.equal(await status(new WebSocket(url, { headers: { authorization: `Bearer ${admin}` } })), 101);
    assert.equal(await status(new WebSocket(url, ['jinad', `jinad.bearer.${admin}`])), 101);
  });
});

describe('hosts and origins', () => {
  it('a request naming another host (DNS rebinding) is refused before anything happens', async () => {
    const before = Object.keys((await call('GET', '/workspaces', { token: admin })).body.items).length;
    // fetch cannot set Host; node:http can, as a browser fooled by rebinding would send it.
    const raw = (method: string, route: string, headers: Record<string, string>, body?: Buffer) =>
      new Promise<{ status: number; body: any }>((resolve, reject) => {
        const req = http.request(`${d.url}${route}`, { method, headers: { ...headers, authorization: `Bearer ${admin}` } }, (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || 'null') }));
        });
        req.on('error', reject);
        req.end(body);
      });
    const upload = new Response(filesForm({ 'a.txt': 'x' }));
    const type = upload.headers.get('content-type')!;
    const evil = await raw('POST', '/workspaces', { host: 'evil.example:8000', origin: 'http://evil.example:8000', 'content-type': type }, Buffer.from(await upload.arrayBuffer()));
    assert.deepEqual([evil.status, evil.body.code], [421, 'misdirected_host']);
    assert.equal(Object.keys((await call('GET', '/workspaces', { token: admin })).body.items).length, before);
    for (const host of ['localhost:1', '127.0.0.1:1', '[::1]:1', 'app.localhost', '10.0.0.7']) {
      assert.equal((await raw('GET', '/workspaces', { host })).status, 200, host);
    }
    assert.equal((await raw('GET', '/workspaces', { host: 'jinad.example.com' })).status, 421);
  });
});

describe('audit', () => {
  it('records every mutating call with the token name, address and outcome; admins read it', async () => {
    const reader = await mint('audited-reader', 'read');
    await call('DELETE', '/pods', { token: admin });
    await call('DELETE', '/pods', { token: reader });
    await call('DELETE', '/pods');
    const rows = (await call('GET', '/audit?limit=5', { token: admin })).body as any[];
    assert.deepEqual(
      rows.slice(0, 3).map((r) => [r.method, r.path, r.status, r.token]),
      [
        ['DELETE', '/pods', 401, null],
        ['DELETE', '/pods', 403, 'audited-reader'],
        ['DELETE', '/pods', 200, 'admin'],
      ],
    );
    assert.equal(rows[0].address, '127.0.0.1');
    assert.ok(rows[0].seq > rows[1].seq);
    assert.equal((await call('GET', `/audit?before=${rows[1].seq}&limit=1`, { token: admin })).body[0].seq, rows[1].seq - 1);
    assert.equal((await call('GET', '/audit', { token: reader })).status, 403);
  });

  it('the daemon’s log never holds a token', () => {
    const text = logged.join('');
    assert.match(text, /admin\.token/);
    assert.ok(!/jinad_[0-9a-f]{16}_/.test(text), 'a token was logged');
  });
});

describe('brute force', () => {
  it('an address that keeps failing waits (429, Retry-After), even with a good token', async () => {
    const b = await startFakeDaemon({ config: { auth: true, authThrottle: { failures: 5, windowSeconds: 60 } } });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 7; i++) codes.push((await fetch(`${b.url}/workspaces`, { headers: { authorization: `Bearer guess${i}` } })).status);
      assert.deepEqual(codes, [401, 401, 401, 401, 401, 429, 429]);
      const res = await fetch(`${b.url}/workspaces`, { headers: { authorization: `Bearer ${b.adminToken}` } });
      assert.equal(res.status, 429);
      assert.ok(Number(res.headers.get('retry-after')) >= 1);
      assert.equal((await fetch(`${b.url}/`)).status, 200, 'liveness stays open');
    } finally {
      await b.cleanup();
    }
  });
});

describe('secrets in envs', () => {
  it('an object’s secret-named envs are never shown back', async () => {
    const { id: ws } = await createWorkspace(d.url, { 'hi.ts': 'export class Hi {}\n' }, '', { token: admin });
    const pea = await call('POST', `/peas?workspace_id=${ws}&envs=JINAD_TOKEN=s3cret&envs=DB_PASSWORD=hunter2&envs=PLAIN=1`, { token: admin, body: { uses: 'Hi', py_modules: ['hi.ts'] } });
    assert.equal(pea.status, 201, JSON.stringify(pea.body));
    const item = await call('GET', `/peas/${pea.body}`, { token: admin });
    assert.deepEqual(item.body.arguments.envs, { JINAD_TOKEN: '***', DB_PASSWORD: '***', PLAIN: '1' });
    assert.ok(!JSON.stringify((await call('GET', '/peas', { token: admin })).body).includes('s3cret'));
  });
});

describe('listening', () => {
  it('`jinad serve` on a non-loopback address with authentication off stops with the reason', async () => {
    const bin = fileURLToPath(new URL('../../src/cli/bin.mjs', import.meta.url));
    const node = 'deno' in process.versions ? 'node' : process.execPath;
    const child = spawn(node, [bin, 'serve', '--host', '0.0.0.0', '--port', '0', '--auth', 'off', '--backend', 'fake', '--root', d.root], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    const code = await new Promise((r) => child.once('exit', r));
    assert.equal(code, 1);
    assert.match(stderr, /refusing to listen on 0\.0\.0\.0 with authentication off/);
  });

  it('refuses a non-loopback address with authentication off, unless --insecure', () => {
    assert.throws(() => resolveConfig({ host: '0.0.0.0', auth: false }), (e: Error) => e instanceof ConfigError && /refusing to listen on 0\.0\.0\.0/.test(e.message));
    assert.equal(resolveConfig({ host: '0.0.0.0', auth: false, insecure: true }).auth, false);
    assert.equal(resolveConfig({ host: '127.0.0.1', auth: false }).auth, false);
    assert.equal(resolveConfig({ host: '0.0.0.0' }).auth, true);
  });
});
