// Module resolution for plugin folders anywhere on disk (inside the project, the package's own
// `exports` already do this):
// - `import … from 'jinad/plugin'` resolves to this SDK;
// - a plugin's .ts/.js file is an ES module unless its package.json says "type": "commonjs"
//   (a plugin folder often has no package.json, which would make Node load it as CommonJS).
// Handed down the chain (not short-circuited) so the TypeScript loader sees it too.
import { fileURLToPath } from 'node:url';
import { declaredType } from '../runtime/alias-hook.mjs';

let SDK = new URL('./index.ts', import.meta.url).href;

/** The bundled daemon passes its own URL: it exports the SDK, and plugins must share its classes. */
export function initialize(data) {
  if (data?.sdk) SDK = data.sdk;
}

const AMBIGUOUS = /\.(ts|js)$/;

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier === 'jinad/plugin' ? SDK : specifier, context);
  if (resolved.url.startsWith('file:') && AMBIGUOUS.test(resolved.url) && !resolved.url.includes('/node_modules/')) {
    if (declaredType(fileURLToPath(resolved.url)) === undefined) return { ...resolved, format: 'module' };
  }
  return resolved;
}
