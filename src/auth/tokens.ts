/**
 * Tokens: made, listed, removed and verified. Rows live in the store; a copy in memory answers
 * every request's check without a query (verification is a map lookup and one SHA-256), and is
 * changed only through this service, so the two never disagree within one daemon.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { fail } from '../errors.ts';
import type { Store } from '../store/db.ts';
import { tokens } from './schema.ts';

import { type NewToken, SCOPES, type Scope, type TokenInfo } from '../contract/auth.ts';

export { SCOPES, type Scope, type TokenInfo };
/** Each scope allows what the ones before it allow. */
export const allows = (have: Scope, need: Scope) => SCOPES.indexOf(have) >= SCOPES.indexOf(need);

type Row = typeof tokens.$inferSelect;
const TOKEN = /^jinad_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
export const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const sha256 = (s: string) => createHash('sha256').update(s).digest();
const infoOf = (r: Row): TokenInfo => ({ name: r.name, scope: r.scope as Scope, created: r.createdAt, expires: r.expiresAt });

/** `30d`, `12h`, `90m`, `45s`, `2w` → milliseconds; undefined for anything else. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,6})\s*([smhdw])$/.exec(text.trim());
  if (!m) return undefined;
  const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 }[m[2] as 's'];
  return Number(m[1]) * unit;
}

/** An expiry as given (`30d`, or an ISO time in the future) → an ISO time. */
export function expiryOf(expires: string, now = Date.now()): string {
  const ms = parseDuration(expires);
  if (ms !== undefined) {
    if (ms === 0) throw fail('invalid_request', 'expires must be more than 0', [`expires: '${expires}' is not in the future`]);
    return new Date(now + ms).toISOString();
  }
  const at = Date.parse(expires);
  if (!/^\d{4}-\d{2}-\d{2}/.test(expires) || Number.isNaN(at)) {
    throw fail('invalid_request', `expires: '${expires}' is neither a duration (30d, 12h, 90m) nor an ISO time`, [`expires: expected a duration like 30d or an ISO time`]);
  }
  if (at <= now) throw fail('invalid_request', `expires: '${expires}' is in the past`, [`expires: '${expires}' is in the past`]);
  return new Date(at).toISOString();
}

export interface TokenService {
  /** Load the rows; call once before use. */
  load(): Promise<void>;
  count(): number;
  /** A new token: the full token text is only in this answer. */
  create(input: { name: string; scope: Scope; expires?: string }): Promise<NewToken>;
  list(): TokenInfo[];
  /** Removes it; false when there is no token of that name. */
  remove(name: string): Promise<boolean>;
  /** The token's info when it is valid now, else undefined (unknown, wrong secret or expired). */
  verify(presented: string): TokenInfo | undefined;
}

export function createTokenService(store: Store): TokenService {
  const byId = new Map<string, Row>();
  return {
    async load() {
      byId.clear();
      for (const row of await store.db.select().from(tokens)) byId.set(row.id, row);
    },
    count: () => byId.size,
    async create({ name, scope, expires }) {
      if (!TOKEN_NAME.test(name)) throw fail('invalid_request', `token name '${name}' must be 1–64 letters, digits, '.', '_' or '-'`, [`name: invalid`]);
      if ([...byId.values()].some((r) => r.name === name)) throw fail('token_exists', `a token named '${name}' already exists; remove it first or pick another name`);
      const id = randomBytes(8).toString('hex');
      const secret = randomBytes(32).toString('base64url');
      const row: Row = { id, name, scope, secretHash: sha256(secret).toString('hex'), createdAt: new Date().toISOString(), expiresAt: expires ? expiryOf(expires) : null };
      await store.db.insert(tokens).values(row);
      byId.set(id, row);
      return { ...infoOf(row), token: `jinad_${id}_${secret}` };
    },
    list: () => [...byId.values()].map(infoOf).sort((a, b) => a.created.localeCompare(b.created)),
    async remove(name) {
      const row = [...byId.values()].find((r) => r.name === name);
      if (!row) return false;
      await store.db.delete(tokens).where(eq(tokens.id, row.id));
      byId.delete(row.id);
      return true;
    },
    verify(presented) {
      const m = TOKEN.exec(presented);
      const row = m ? byId.get(m[1]!) : undefined;
      if (!m || !row) return undefined;
      if (!timingSafeEqual(sha256(m[2]!), Buffer.from(row.secretHash, 'hex'))) return undefined;
      if (row.expiresAt && Date.parse(row.expiresAt) <= Date.now()) return undefined;
      return infoOf(row);
    },
  };
}
