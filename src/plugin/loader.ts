/**
 * Finding and ordering plugins: built-in folders of plugins/ and user folders, each an index.ts
 * (or .js/.mjs) default-exporting `definePlugin(...)`. Only this loader reads plugin folders.
 * The graph (duplicates, missing dependencies, cycles) is checked before anything is set up.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { importUserModule } from '../user-module.ts';
import type { PluginDefinition } from './define.ts';

export class PluginError extends Error {}

export const BUILTIN_PLUGINS_DIR = fileURLToPath(new URL('../../plugins', import.meta.url));

/** Every built-in plugin: the folders of plugins/ that have an index.ts. */
export function builtinPlugins(): string[] {
  return readdirSync(BUILTIN_PLUGINS_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(BUILTIN_PLUGINS_DIR, d.name, 'index.ts')))
    .map((d) => d.name)
    .sort();
}

/** The built-in plugins when the daemon runs as one bundle (src/bundle.mjs): already loaded, by name. */
let bundled: Record<string, PluginDefinition> | undefined;
export function provideBuiltins(plugins: Record<string, PluginDefinition>): void {
  bundled = plugins;
}

/** Import each plugin (a built-in name or a folder). A plugin that fails to load names itself and the cause. */
export async function loadPlugins(entries: string[]): Promise<PluginDefinition[]> {
  const defs: PluginDefinition[] = [];
  for (const entry of entries) {
    const named = /^[a-z0-9-]+$/i.test(entry) && !existsSync(entry);
    const builtin = named ? bundled?.[entry] : undefined;
    if (builtin) {
      defs.push(builtin);
      continue;
    }
    const folder = named ? path.join(BUILTIN_PLUGINS_DIR, entry) : path.resolve(entry);
    const file = ['index.ts', 'index.js', 'index.mjs'].map((f) => path.join(folder, f)).find((f) => existsSync(f));
    if (!file) throw new PluginError(`plugin '${entry}': no index.ts or index.js in ${folder}`);
    let mod: { default?: PluginDefinition };
    try {
      mod = await importUserModule(file);
    } catch (err) {
      throw new PluginError(`plugin '${entry}' failed to load: ${(err as Error).message}`, { cause: err });
    }
    const def = mod.default;
    if (!def || typeof def.name !== 'string' || typeof def.setup !== 'function') {
      throw new PluginError(`plugin '${entry}': index must default-export definePlugin({ name, setup })`);
    }
    defs.push(def);
  }
  return defs;
}

/** Check the plugin graph (duplicates, missing dependencies, cycles) and order it dependencies-first. */
export function orderPlugins(defs: PluginDefinition[]): PluginDefinition[] {
  const byName = new Map<string, PluginDefinition>();
  for (const d of defs) {
    if (byName.has(d.name)) throw new PluginError(`plugin '${d.name}' is registered twice`);
    byName.set(d.name, d);
  }
  for (const d of defs) {
    for (const dep of d.dependsOn ?? []) {
      if (!byName.has(dep)) throw new PluginError(`the dependency '${dep}' of plugin '${d.name}' is not registered`);
    }
  }
  const ordered: PluginDefinition[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (d: PluginDefinition, trail: string[]) => {
    if (state.get(d.name) === 'done') return;
    if (state.get(d.name) === 'visiting') throw new PluginError(`plugin dependency cycle: ${[...trail, d.name].join(' → ')}`);
    state.set(d.name, 'visiting');
    for (const dep of d.dependsOn ?? []) visit(byName.get(dep)!, [...trail, d.name]);
    state.set(d.name, 'done');
    ordered.push(d);
  };
  for (const d of defs) visit(d, []);
  return ordered;
}
