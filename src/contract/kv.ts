/**
 * The one `KEY=VALUE` parser: request `envs`, `--env` flags and the runtime's CLI all use it.
 * As JinaD does, `\r`, `\n` and `\t` are dropped from keys and values; unlike JinaD, an entry
 * without `=` (or with an empty key) is an error instead of a silently dropped variable.
 */

export class KeyValueError extends Error {}

/** `['A=1', 'B=x=y']` → `{A: '1', B: 'x=y'}`. `what` names the source in errors (`envs`, `--env`). */
export function parseKeyValues(list: readonly string[] = [], what = 'envs'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of list) {
    const kv = entry.replace(/[\r\n\t]/g, '');
    const i = kv.indexOf('=');
    const key = i < 0 ? '' : kv.slice(0, i).trim();
    if (!key) throw new KeyValueError(`${what} must be KEY=VALUE, got '${entry}'`);
    out[key] = kv.slice(i + 1);
  }
  return out;
}

/** Names of variables whose values are secrets (tokens, passwords, keys): never shown back. */
export const SECRET_NAME = /TOKEN|SECRET|PASS|KEY|CREDENTIAL/i;

/** The map with the values of secret-named keys replaced by `***`. */
export function redactSecrets(envs: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(envs).map(([k, v]) => [k, SECRET_NAME.test(k) ? '***' : v]));
}

/** A copy of `value` with every `env`/`envs` map in it redacted (at any depth: the partial daemon's answer nests them). */
export function redactEnvs<T>(value: T): T {
  if (Array.isArray(value)) return value.map(redactEnvs) as T;
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, (k === 'envs' || k === 'env') && v && typeof v === 'object' && !Array.isArray(v) ? redactSecrets(v as Record<string, string>) : redactEnvs(v)]),
  ) as T;
}
