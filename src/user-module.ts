/**
 * Importing users' modules: `jinad.config.ts` and plugin folders. Run from the sources (tsx, Deno),
 * TypeScript already loads; the bundled daemon (src/bundle.mjs) runs on plain Node, so it registers
 * a TypeScript loader (the small one containers use for executors) before the first such import.
 * Either way a plugin's `import … from 'jinad/plugin'` resolves to the daemon's own SDK.
 */
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';

/** The bundle's URL when the daemon runs bundled: it exports the SDK, so plugins share its classes (errors checked with instanceof). */
let bundle: string | undefined;
export function runningBundled(url: string): void {
  bundle = url;
}

let hooked = false;
export async function importUserModule(file: string): Promise<Record<string, any>> {
  if (!hooked && !('deno' in process.versions)) {
    hooked = true;
    if (bundle) register(new URL('./runtime/ts-loader.mjs', import.meta.url));
    register(new URL('./plugin/sdk-hook.mjs', import.meta.url), { data: { sdk: bundle } });
  }
  return import(pathToFileURL(file).href);
}
