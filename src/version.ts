/** Daemon and runtime versions. */
import { readFileSync } from 'node:fs';

export { RUNTIME_VERSION } from './runtime/version.ts';
export const VERSION = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version as string;
/** The Jina API generation the runtime implements (checked against `.jinad` `jina = …`). */
export const JINA_COMPAT = '2';
