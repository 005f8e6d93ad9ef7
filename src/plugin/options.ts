/**
 * A plugin's config slice, from three places, later ones winning: `<name>: {...}` in
 * jinad.config.ts, env `JINAD_<NAME>_<KEY>` and flag `--<name>-<key>` (the key in upper snake
 * case and kebab case, derived from the plugin's schema). Env and flag values are text: a key
 * whose schema is a number is read as one. Errors name the plugin and the key.
 */
import * as v from 'valibot';
import { ConfigError, type JinadConfig } from '../config.ts';
import type { PluginDefinition } from './define.ts';

const words = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase().split(' ');

/** The schema's type under optional/nullable wrappers and pipes: `number`, `string`, … */
function baseType(schema: unknown): string | undefined {
  let s = schema as { type?: string; wrapped?: unknown; pipe?: unknown[] } | undefined;
  while (s && (s.type === 'optional' || s.type === 'nullable' || s.type === 'nullish')) s = s.wrapped as typeof s;
  return s?.type;
}

export function pluginOptions(def: PluginDefinition, config: JinadConfig): Record<string, unknown> {
  const file = config.slices[def.name] ?? {};
  if (!def.options) {
    if (Object.keys(file).length) throw new ConfigError(`invalid configuration: plugin '${def.name}' takes no options, got ${Object.keys(file).join(', ')}`);
    return {};
  }
  const raw: Record<string, unknown> = { ...file };
  for (const [key, schema] of Object.entries(def.options.entries)) {
    const w = words(key);
    const envName = `JINAD_${def.name.toUpperCase().replaceAll('-', '_')}_${w.join('_').toUpperCase()}`;
    const flagName = `${def.name}-${w.join('-')}`;
    const text = config.flags[flagName] ?? config.env[envName];
    if (text === undefined || text === '') continue;
    const type = baseType(schema);
    raw[key] = type === 'number' ? Number(text) : type === 'boolean' ? ['1', 'true', 'yes'].includes(text.toLowerCase()) : text;
  }
  const result = v.safeParse(def.options, raw);
  if (!result.success) {
    const msgs = result.issues.map((i) => `${def.name}.${v.getDotPath(i) ?? ''}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${msgs.join('; ')}`);
  }
  return Object.freeze(result.output);
}
