/**
 * Plugins: each resource kind (workspace, flow, …) is a folder whose index.ts default-exports
 * `definePlugin({ name, prefix, dependsOn, setup })`. `setup(api)` receives a narrow api and
 * registers routes on its own router, job handlers, reconcile, status and close steps.
 * Only this loader reads plugin folders; plugins never import each other's files. They share
 * services through `provide`/`use`, typed by augmenting `Services`.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Hono } from 'hono';
import type { JinadConfig } from './config.ts';
import type { BaseImage } from './docker/base-image.ts';
import type { Labels } from './docker/labels.ts';
import type { ContainerRuntime, ContainerSpec } from './docker/runtime.ts';
import type { JobRunner } from './jobs.ts';
import type { LogFiles } from './logfiles.ts';
import type { Logger } from './logger.ts';
import type { Store } from './store/db.ts';

/** Services plugins offer each other. A plugin adds its entry with `declare module`. */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by plugins through declaration merging
export interface Services {}

export interface PluginApi {
  readonly name: string;
  readonly config: JinadConfig;
  readonly store: Store;
  readonly docker: ContainerRuntime;
  readonly jobs: JobRunner;
  readonly log: Logger;
  /** Routes registered here are served under the plugin's prefix. */
  readonly router: Hono;
  /** The runtime base image every workspace image starts from. */
  readonly baseImage: BaseImage;
  /** Host path of the daemon root (differs from config.root when the daemon runs in a container). */
  readonly hostRoot: string;
  /** Log files (JSON lines) and their followers: write build output and container logs here. */
  readonly logFiles: LogFiles;
  /** Change every container spec before it runs (e.g. its log driver); by labels, not by kind. */
  decorateContainers(fn: (spec: ContainerSpec) => ContainerSpec): void;
  /** This daemon's labels plus `extra`: put them on every Docker object. */
  labels(extra: Labels): Labels;
  provide<K extends keyof Services>(key: K, service: Services[K]): void;
  use<K extends keyof Services>(key: K): Services[K];
  /** Contribute keys to `GET /status`. */
  onStatus(fn: () => Promise<Record<string, unknown>>): void;
  /** Make the store and Docker agree; runs at start, before jobs resume and before serving. */
  onReconcile(fn: () => Promise<void>): void;
  /** Release resources; close steps run in reverse order of registration. */
  onClose(fn: () => Promise<void> | void): void;
}

export interface PluginDefinition {
  name: string;
  /** Path prefix of the plugin's routes, e.g. `/workspaces`. */
  prefix?: string;
  /** Plugins that must be set up first (their services are available in `setup`). */
  dependsOn?: string[];
  /** OpenAPI tag description. */
  description?: string;
  setup(api: PluginApi): void | Promise<void>;
}

export function definePlugin(def: PluginDefinition): PluginDefinition {
  return def;
}

export class PluginError extends Error {}

export const BUILTIN_PLUGINS_DIR = fileURLToPath(new URL('../plugins', import.meta.url));

/** Every built-in plugin: the folders of plugins/ that have an index.ts. */
export function builtinPlugins(): string[] {
  return readdirSync(BUILTIN_PLUGINS_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(BUILTIN_PLUGINS_DIR, d.name, 'index.ts')))
    .map((d) => d.name)
    .sort();
}

/** Import each plugin (a built-in name or a folder). A plugin that fails to load names itself and the cause. */
export async function loadPlugins(entries: string[]): Promise<PluginDefinition[]> {
  const defs: PluginDefinition[] = [];
  for (const entry of entries) {
    const folder = /^[a-z0-9-]+$/i.test(entry) && !existsSync(entry) ? path.join(BUILTIN_PLUGINS_DIR, entry) : path.resolve(entry);
    const file = ['index.ts', 'index.js', 'index.mjs'].map((f) => path.join(folder, f)).find((f) => existsSync(f));
    if (!file) throw new PluginError(`plugin '${entry}': no index.ts or index.js in ${folder}`);
    let mod: { default?: PluginDefinition };
    try {
      mod = await import(pathToFileURL(file).href);
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
