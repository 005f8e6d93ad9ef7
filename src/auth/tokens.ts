/**
 * Tokens: made, listed, removed and verified. Rows live in the store; a copy in memory answers
 * every request's check without a query (a map lookup, then one SHA-256 the first time a secret
 * is presented, a constant-time compare after), and is changed only through this service, so
 * the two never disagree within one daemon.
 */
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { type NewToken, SCOPES, type Scope, type TokenInfo } from '../contract/auth.ts';
import { fail } from '../errors.ts';
import type { Store } from '../store/db.ts';
import { tokens } from './schema.ts';

export { SCOPES, type Scope, type TokenInfo };
/** Each scope allows what the ones before it allow. */
const RANK: Record<Scope, number> = { read: 0, write: 1, admin: 2 };
export const allows = (have: Scope, need: Scope) => RANK[have] >= RANK[need];

type Row = typeof tokens.$inferSelect;
const TOKEN = /^jinad_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const TOKEN_LENGTH = 'jinad_'.length + 16 + 1 + 43;
export const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Equal strings of one length, in time that depends on the length only. */
function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

const sha256 = (s: string) => hash('sha256', s, 'buffer') as unknown as Buffer;
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

/**
 * A row as the hot path wants it: the hash as bytes, the expiry as a number, the info made
 * once, and the secret once it was presented and matched the hash (kept in this process's
 * memory only, like the requests that carry it): later requests compare with it in constant
 * time, without hashing or allocating.
 */
interface Entry {
  row: Row;
  hash: Buffer;
  expiresMs: number;
  info: TokenInfo;
  secret?: string;
}
const entryOf = (row: Row): Entry => ({ row, hash: Buffer.from(row.secretHash, 'hex'), expiresMs: row.expiresAt ? Date.parse(row.expiresAt) : Infinity, info: Object.freeze(infoOf(row)) });

/** The first time a token is presented: its form, then its secret's hash (constant time). */
function matchesHash(presented: string, entry: Entry): boolean {
  const m = TOKEN.exec(presented);
  if (!m || !timingSafeEqual(sha256(m[2]!), entry.hash)) return false;
  entry.secret = m[2]!;
  return true;
}

export function createTokenService(store: Store): TokenService {
  const byId = new Map<string, Entry>();
  return {
    async load() {
      byId.clear();
      for (const row of await store.db.select().from(tokens)) byId.set(row.id, entryOf(row));
    },
    count: () => byId.size,
    async create({ name, scope, expires }) {
      if (!TOKEN_NAME.test(name)) throw fail('invalid_request', `token name '${name}' must be 1–64 letters, digits, '.', '_' or '-'`, [`name: invalid`]);
      if ([...byId.values()].some((e) => e.row.name === name)) throw fail('token_exists', `a token named '${name}' already exists; remove it first or pick another name`);
      const id = randomBytes(8).toString('hex');
      const secret = randomBytes(32).toString('base64url');
      const row: Row = { id, name, scope, secretHash: sha256(secret).toString('hex'), createdAt: new Date().toISOString(), expiresAt: expires ? expiryOf(expires) : null };
      await store.db.insert(tokens).values(row);
      byId.set(id, entryOf(row));
      return { ...infoOf(row), token: `jinad_${id}_${secret}` };
    },
    list: () => [...byId.values()].map((e) => infoOf(e.row)).sort((a, b) => a.created.localeCompare(b.created)),
    async remove(name) {
      const entry = [...byId.values()].find((e) => e.row.name === name);
      if (!entry) return false;
      await store.db.delete(tokens).where(eq(tokens.id, entry.row.id));
      byId.delete(entry.row.id);
      return true;
    },
    verify(presented) {
      if (presented.length !== TOKEN_LENGTH) return undefined;
      const entry = byId.get(presented.slice(6, 22));
      if (!entry) return undefined;
      const secret = presented.slice(23);
      if (!(entry.secret !== undefined ? sameText(secret, entry.secret) : matchesHash(presented, entry))) return undefined;
      if (entry.expiresMs !== Infinity && entry.expiresMs <= Date.now()) return undefined;
      return entry.info;
    },
  };
}
