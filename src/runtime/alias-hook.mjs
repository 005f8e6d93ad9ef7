// Module resolution hook: `import … from 'jinad'` in an executor resolves to this runtime,
// wherever the executor's file lives (a workspace in a container, a folder on a laptop).
const RUNTIME = new URL('./index.ts', import.meta.url).href;

export async function resolve(specifier, context, next) {
  // Handed down the chain (not short-circuited) so the TypeScript loader sees it too.
  if (specifier === 'jinad') return next(RUNTIME, context);
  return next(specifier, context);
}
