/**
 * The gate in front of every route: the Host check (DNS rebinding), then the token and its
 * scope, then the audit record of every mutating call. GET / (liveness) and the /docs page with
 * its assets are open; everything else needs a token when authentication is on.
 *
 * Scopes: `read` for GET (logs and WebSocket streams included), `write` for every other method,
 * `admin` for /tokens and /audit. A token comes in `Authorization: Bearer <token>`, or, from a
 * browser's WebSocket (which cannot set headers), as a `jinad.bearer.<token>` subprotocol.
 * Fast path (a GET with a good token) is synchronous: a map lookup and a constant-time compare.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { lte } from 'drizzle-orm';
import type { Context, MiddlewareHandler, Next } from 'hono';
import { fail } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Store } from '../store/db.ts';
import { audit } from './schema.ts';
import type { Throttle } from './throttle.ts';
import { allows, type Scope, type TokenInfo, type TokenService } from './tokens.ts';

/** The peer's address (`unknown` without a socket, as with app.fetch in tests). */
export function addressOf(c: Context): string {
  return (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket?.remoteAddress ?? 'unknown';
}

/**
 * Hosts a browser may name: loopback names, IP literals (a rebinding attack needs a DNS name
 * it controls, so an address typed as such is safe) and the configured public names.
 */
export function hostGuard(publicNames: readonly string[]): MiddlewareHandler {
  const names = new Set(publicNames.map((n) => n.toLowerCase().replace(/\.$/, '')));
  const allowed = (header: string) => {
    let host = header.toLowerCase();
    if (host.startsWith('[')) return isIP(host.slice(1, host.indexOf(']'))) === 6;
    host = host.replace(/:\d*$/, '').replace(/\.$/, '');
    return isIP(host) !== 0 || host === 'localhost' || host.endsWith('.localhost') || names.has(host);
  };
  return (c, next) => {
    const host = c.req.header('host');
    if (host === undefined || allowed(host)) return next();
    throw fail('misdirected_host', `this daemon does not answer to the host name '${host}'; list it in publicNames (JINAD_PUBLIC_NAMES) to allow it`);
  };
}

/** Liveness, and the pages that ask for a token (API docs, dashboard) with their assets; never data. */
const PUBLIC = (method: string, path: string) =>
  (method === 'GET' || method === 'HEAD') && (path === '/' || path === '/docs' || path.startsWith('/docs/') || path === '/ui' || path === '/ui/' || path.startsWith('/ui/assets/'));
const scopeFor = (method: string, path: string): Scope =>
  path === '/tokens' || path.startsWith('/tokens/') || path === '/audit' ? 'admin' : method === 'GET' || method === 'HEAD' ? 'read' : 'write';

function presented(c: Context): string | undefined {
  const header = c.req.header('authorization');
  // `Bearer ` as clients write it, else in any case; the parser has trimmed the value already.
  if (header) return header.startsWith('Bearer ') || (header.length > 7 && header.slice(0, 7).toLowerCase() === 'bearer ') ? header.slice(7) : '';
  const protocols = c.req.header('sec-websocket-protocol');
  return protocols?.split(',').map((p) => p.trim()).find((p) => p.startsWith('jinad.bearer.'))?.slice('jinad.bearer.'.length);
}

/**
 * The token check: the request's valid token, undefined for a public route; throws 429 (a
 * throttled address) or 401 (no valid token).
 */
export type Authenticate = (c: Context) => TokenInfo | undefined;

export function authenticator(opts: { tokens: TokenService; throttle: Throttle }): Authenticate {
  const { tokens, throttle } = opts;
  return (c) => {
    const method = c.req.method;
    if (method === 'OPTIONS' || PUBLIC(method, c.req.path)) return undefined;
    // Asked before the token, so a throttled guesser learns nothing; skipped while nobody failed.
    const wait = throttle.idle ? 0 : throttle.retryAfter(addressOf(c));
    if (wait) {
      c.header('retry-after', String(wait));
      throw fail('too_many_requests', `too many failed authentications from ${addressOf(c)}; retry in ${wait} s`);
    }
    const given = presented(c);
    const token = given ? tokens.verify(given) : undefined;
    if (!token) {
      throttle.fail(addressOf(c));
      c.header('www-authenticate', 'Bearer realm="jinad"');
      throw fail(
        'unauthorized',
        given === undefined
          ? 'authentication required: send `Authorization: Bearer <token>` (see `jinad token create`, or the admin token in <root>/admin.token)'
          : 'the token is not valid (unknown, removed or expired)',
      );
    }
    return token;
  };
}

/** 403 unless the token's scope allows this call. */
function checkScope(c: Context, token: TokenInfo): void {
  const { method, path } = c.req;
  const need = scopeFor(method, path);
  if (!allows(token.scope, need)) throw fail('forbidden', `token '${token.name}' has the '${token.scope}' scope; ${method} ${path} needs '${need}'`);
}

/**
 * One middleware in front of every route: reads pass the token check (when authentication is
 * on) synchronously; every call that may change something is checked and then recorded in the
 * audit trail once answered, refusals included (with the token's name when it was valid).
 */
export function accessGate(d: { authenticate?: Authenticate; store: Store; log: Logger; keep?: number }): MiddlewareHandler {
  const { authenticate, store, log, keep = 100_000 } = d;
  let written = 0;
  const record = async (c: Context, token: TokenInfo | undefined, status: number) => {
    try {
      const row = { time: new Date().toISOString(), token: token?.name ?? null, address: addressOf(c), method: c.req.method, path: c.req.path, status };
      const [{ seq }] = await store.db.insert(audit).values(row).returning({ seq: audit.seq });
      // The trail is bounded: now and then, rows beyond the newest `keep` go.
      if (++written % 1000 === 0) await store.db.delete(audit).where(lte(audit.seq, seq! - keep));
    } catch (err) {
      log.warn('cannot write the audit record', err);
    }
  };
  const mutating = async (c: Context, next: Next) => {
    let token: TokenInfo | undefined;
    try {
      token = authenticate?.(c);
      if (token) checkScope(c, token);
    } catch (err) {
      await record(c, token, (err as { status?: number }).status ?? 500);
      throw err;
    }
    await next();
    await record(c, token, c.res.status);
  };
  return (c, next) => {
    const method = c.req.method;
    if (method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS') return mutating(c, next);
    const token = authenticate?.(c);
    if (token) checkScope(c, token);
    return next();
  };
}
