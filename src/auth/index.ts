/** Authentication, authorization and the audit trail, wired into the app before any route. */
import type { Hono } from 'hono';
import type { JinadConfig } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Store } from '../store/db.ts';
import { ensureAdminToken } from './admin-file.ts';
import { accessGate, authenticator } from './guard.ts';
import { authRoutes } from './routes.ts';
import { createThrottle } from './throttle.ts';
import { createTokenService, type TokenService } from './tokens.ts';

export { hostGuard } from './guard.ts';

export async function setupAuth(app: Hono, d: { config: JinadConfig; store: Store; log: Logger }): Promise<TokenService> {
  const tokens = createTokenService(d.store);
  await tokens.load();
  if (d.config.auth) await ensureAdminToken(tokens, d.config.root, d.log);
  const throttle = createThrottle({ max: d.config.authThrottle.failures, windowMs: d.config.authThrottle.windowSeconds * 1000 });
  app.use(accessGate({ authenticate: d.config.auth ? authenticator({ tokens, throttle }) : undefined, store: d.store, log: d.log }));
  authRoutes(app, { tokens, store: d.store });
  return tokens;
}
