/**
 * Cross-origin requests. The daemon runs containers for whoever reaches it, and a browser lets
 * any web page POST a multipart form to 127.0.0.1:8000 without a preflight. So a request that
 * carries an `Origin` is refused unless that origin is the daemon itself (the /docs page) or is
 * listed in `corsOrigins`; listed origins get CORS headers. Requests without an Origin (curl,
 * clients, other programs) pass untouched, on a synchronous fast path.
 */
import type { MiddlewareHandler } from 'hono';
import { fail } from '../errors.ts';

export function originGuard(allowed: readonly string[]): MiddlewareHandler {
  const any = allowed.includes('*');
  const listed = new Set(allowed);
  return (c, next) => {
    const origin = c.req.header('origin');
    if (!origin) return next();
    let sameOrigin = false;
    try {
      sameOrigin = new URL(origin).host === c.req.header('host');
    } catch {
      // a malformed Origin is not the daemon's own
    }
    if (sameOrigin) return next();
    if (!any && !listed.has(origin)) {
      throw fail('forbidden_origin', `cross-origin request from ${origin} refused; add it to corsOrigins in jinad.config.ts to allow it`);
    }
    c.header('access-control-allow-origin', any ? '*' : origin);
    c.header('vary', 'Origin');
    if (c.req.method === 'OPTIONS') {
      c.header('access-control-allow-methods', 'GET, POST, PUT, DELETE, OPTIONS');
      c.header('access-control-allow-headers', c.req.header('access-control-request-headers') ?? 'content-type, authorization');
      c.header('access-control-max-age', '600');
      return Promise.resolve(c.body(null, 204));
    }
    return next();
  };
}
