// Module resolution hooks for executors:
// - `import … from 'jinad'` resolves to this runtime, wherever the executor's file lives (a
//   workspace in a container, a folder on a laptop).
// - an executor's .ts/.js file is an ES module unless its package.json says "type": "commonjs":
//   executors `import` the runtime, and a workspace often has no package.json (or one without
//   "type"), which would otherwise make Node load them as CommonJS.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The bundled runtime when there is one (in containers: the Pea's own code is that bundle, and an
// executor must get the very same Executor class), else its TypeScript.
const BUNDLE = new URL('./dist/index.mjs', import.meta.url);
const RUNTIME = (existsSync(BUNDLE) ? BUNDLE : new URL('./index.ts', import.meta.url)).href;
const AMBIGUOUS = /\.(ts|tsx|js|jsx)$/;

/** The `type` of the package.json nearest to a file (undefined when none says). */
export function declaredType(file) {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        return JSON.parse(readFileSync(pkg, 'utf8')).type;
      } catch {
        return undefined;
      }
    }
    if (dir === path.dirname(dir)) return undefined;
  }
}

export async function resolve(specifier, context, next) {
  // Handed down the chain (not short-circuited) so the TypeScript loader sees it too.
  if (specifier === 'jinad') return next(RUNTIME, context);
  const resolved = await next(specifier, context);
  const url = resolved.url;
  if (url.startsWith('file:') && AMBIGUOUS.test(url) && !url.includes('/node_modules/')) {
    if (declaredType(fileURLToPath(url)) === undefined) return { ...resolved, format: 'module' };
  }
  return resolved;
}
