/**
 * DaemonID: `j<kind>-<uuid>`, exactly as JinaD 2.0 (reference §3.1): `jworkspace-…`, `jflow-…`.
 * Any uuid spelling Python's `uuid.UUID` accepts is normalised to lower-case 8-4-4-4-12.
 * Kinds are not listed here: each plugin declares its own (a plugin may add a kind), and the
 * daemon asks its plugins which kind an id belongs to.
 */
import { randomUUID } from 'node:crypto';

/** `j` + the kind name: `jworkspace`, `jflow`, … */
export type JType = `j${string}`;
/** The kind name as used in routes and `daemonize`: `workspace`, `flow`, … (lower-case letters and digits). */
export type IdKind = string;
const JTYPE = /^j[a-z][a-z0-9]*$/;

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
  if (!JTYPE.test(jtype)) {
    throw new MalformedIdError(`Malformed DaemonID: '${value}' does not start with j<kind> (jworkspace, jflow, jpod, jpea, …)`);
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
