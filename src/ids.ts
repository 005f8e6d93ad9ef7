/**
 * DaemonID: `<jtype>-<uuid>`, exactly as JinaD 2.0 (reference §3.1).
 * Any uuid spelling Python's `uuid.UUID` accepts is normalised to lower-case 8-4-4-4-12.
 */
import { randomUUID } from 'node:crypto';

export const JTYPES = ['jpod', 'jpea', 'jflow', 'jnetwork', 'jworkspace'] as const;
export type JType = (typeof JTYPES)[number];
/** The kind name as used in routes and `daemonize`: `workspace`, `flow`, … */
export type IdKind = JType extends `j${infer K}` ? K : never;

export class MalformedIdError extends Error {}

/** Normalise a uuid as Python's uuid.UUID would; undefined if it is not one. */
const CANONICAL = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function normalizeUuid(raw: string): string | undefined {
  if (CANONICAL.test(raw)) return raw; // the common case, on every request: nothing to do
  const hex = raw.replace('urn:', '').replace('uuid:', '').replace(/^\{+|\}+$/g, '').replaceAll('-', '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) return undefined;
  const h = hex.toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Parse a DaemonID. A bare jtype (`"jflow"`) gets a fresh uuid, as in the original. */
export function parseDaemonId(value: unknown): { id: string; jtype: JType; jid: string } {
  if (typeof value !== 'string') throw new MalformedIdError('Malformed DaemonID: must be a string');
  const dash = value.indexOf('-');
  const jtype = (dash < 0 ? value : value.slice(0, dash)) as JType;
  if (!JTYPES.includes(jtype)) {
    throw new MalformedIdError(`Malformed DaemonID: '${value}' does not start with one of ${JTYPES.join(', ')}`);
  }
  const jid = dash < 0 ? randomUUID() : normalizeUuid(value.slice(dash + 1));
  if (!jid) throw new MalformedIdError(`Malformed DaemonID: '${value}' does not end in a uuid`);
  return { id: `${jtype}-${jid}`, jtype, jid };
}

/** A fresh id of one kind: `newId('workspace')` → `jworkspace-<uuid4>`. */
export function newId(kind: IdKind): string {
  return `j${kind}-${randomUUID()}`;
}

/**
 * Accept `jworkspace-<uuid>` or a bare uuid where the kind is known, and insist on that kind.
 * Throws MalformedIdError with a message fit for a 422.
 */
export function daemonize(value: string, kind: IdKind): string {
  const bare = normalizeUuid(value);
  const parsed = bare && !value.startsWith('j') ? { id: `j${kind}-${bare}`, jtype: `j${kind}` } : parseDaemonId(value);
  if (parsed.jtype !== `j${kind}`) {
    throw new MalformedIdError(`'${value}' is a ${parsed.jtype} id, expected a j${kind} id`);
  }
  if (!value.includes('-') && !bare) throw new MalformedIdError(`'${value}' has no uuid`);
  return parsed.id;
}

/** The uuid part of a DaemonID: used as the image tag (`jworkspace:<uuid>`). */
export function jidOf(id: string): string {
  return id.slice(id.indexOf('-') + 1);
}
