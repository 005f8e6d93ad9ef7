// Module resolution for plugin folders anywhere on disk (inside the project, the package's own
// `exports` already do this):
// - `import … from 'jinad/plugin'` resolves to this SDK;
// - a plugin's .ts/.js file is an ES module unless its package.json says "type": "commonjs"
//   (a plugin folder often has no package.json, which would make Node load it as CommonJS).
// Handed down the chain (not short-circuited) so the TypeScript loader sees it too.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SDK = new URL('./index.ts', import.meta.url).href;
const AMBIGUOUS = /\.(ts|js)$/;

function declaredType(file) {
  for (let dir = path.dirname(file); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        return JSON.parse(readFileSync(pkg, 'utf8')).type;
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier === 'jinad/plugin' ? SDK : specifier, context);
  if (resolved.url.startsWith('file:') && AMBIGUOUS.test(resolved.url) && !resolved.url.includes('/node_modules/')) {
    if (declaredType(fileURLToPath(resolved.url)) === undefined) return { ...resolved, format: 'module' };
  }
  return resolved;
}
