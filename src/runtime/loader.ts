/** Load an executor class from the workspace's modules and construct it with its arguments. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ExecutorSpec } from './config.ts';
import { Executor, type ExecutorMetas, withMetas } from './executor.ts';

export class ExecutorLoadError extends Error {}

export async function loadExecutor(spec: ExecutorSpec, metas: ExecutorMetas): Promise<Executor> {
  const { uses } = spec;
  if (uses.kind === 'passthrough') return withMetas(metas, () => new Executor());
  const exported: Record<string, unknown> = {};
  for (const file of uses.modules) {
    if (!existsSync(file)) throw new ExecutorLoadError(`can not find ${path.basename(file)} (looked for ${file})`);
    let mod: Record<string, unknown>;
    try {
      mod = await import(pathToFileURL(file).href);
    } catch (err) {
      throw new ExecutorLoadError(`${path.basename(file)} failed to load: ${(err as Error).message}`, { cause: err });
    }
    for (const [k, val] of Object.entries(mod)) exported[k] = val;
    const dflt = mod.default as { name?: string } | undefined;
    if (typeof dflt === 'function' && dflt.name) exported[dflt.name] ??= dflt;
  }
  const Cls = exported[uses.className];
  if (typeof Cls !== 'function') {
    const found = Object.entries(exported).filter(([, val]) => typeof val === 'function').map(([k]) => k);
    throw new ExecutorLoadError(
      `executor class '${uses.className}' is not exported by ${uses.modules.map((m) => path.basename(m)).join(', ')}${found.length ? ` (it exports: ${found.join(', ')})` : ''}`,
    );
  }
  const instance = withMetas(metas, () => new (Cls as new (args: Record<string, unknown>) => unknown)(spec.usesWith));
  if (!(instance instanceof Executor)) throw new ExecutorLoadError(`'${uses.className}' does not extend Executor (import { Executor } from 'jinad')`);
  return instance;
}
