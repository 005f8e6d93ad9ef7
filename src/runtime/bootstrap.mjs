// Loaded with `node --import` before any runtime process starts: TypeScript executors load
// without a build step (tsx), and `jinad` resolves to this runtime.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./alias-hook.mjs', import.meta.url);
