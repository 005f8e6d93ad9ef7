// The loader of a container's Peas, registered once the bundled runtime is loaded (pea-worker.ts):
// users' TypeScript executors compile with esbuild (ts-loader.mjs), and `jinad` resolves to the
// bundled runtime (alias-hook.mjs). bootstrap.mjs (tsx) is the same for the runtime's sources.
import { register } from 'node:module';

register('./ts-loader.mjs', import.meta.url);
register('./alias-hook.mjs', import.meta.url);
