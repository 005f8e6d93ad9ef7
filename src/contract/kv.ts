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
