/**
 * The first admin token. A daemon with no token at all makes one named `admin` and writes it to
 * `<root>/admin.token`, readable by this user only: the CLI and client on this machine pick it
 * up, and the operator makes narrower tokens from it. The file is opened without following a
 * link, and its mode is set on the descriptor, whatever was there before.
 */
import { closeSync, constants, fchmodSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger.ts';
import type { TokenService } from './tokens.ts';

const ADMIN_TOKEN_FILE = 'admin.token';

export async function ensureAdminToken(tokens: TokenService, root: string, log: Logger): Promise<void> {
  if (tokens.count() > 0) return;
  const file = path.join(root, ADMIN_TOKEN_FILE);
  const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  try {
    fchmodSync(fd, 0o600);
    ftruncateSync(fd, 0);
    const { token } = await tokens.create({ name: 'admin', scope: 'admin' });
    writeSync(fd, `${token}\n`);
  } finally {
    closeSync(fd);
  }
  log.info(`made the first admin token; it is in ${file} (mode 0600). The CLI on this machine uses it; make narrower ones with \`jinad token create\``);
}
