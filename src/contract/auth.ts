/** Tokens and the audit trail on the wire. */

export const SCOPES = ['read', 'write', 'admin'] as const;
/** `read`: GETs and logs; `write`: also create, update, delete; `admin`: also tokens and the audit trail. */
export type Scope = (typeof SCOPES)[number];

export interface TokenInfo {
  name: string;
  scope: Scope;
  created: string;
  /** null: never expires. */
  expires: string | null;
}

/** A token as made: the only time its text is shown. */
export type NewToken = TokenInfo & { token: string };

/** One mutating call: who (token name; null when none was valid), from where, what, and its status. */
export interface AuditRecord {
  seq: number;
  time: string;
  token: string | null;
  address: string;
  method: string;
  path: string;
  status: number;
}
