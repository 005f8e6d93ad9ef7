/** Daemon and runtime versions, read once from package.json files. */
import { readFileSync } from 'node:fs';

const read = (rel: string) => JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')).version as string;

export const VERSION = read('../package.json');
export const RUNTIME_VERSION = read('./runtime/package.json');
/** The Jina API generation the runtime implements (checked against `.jinad` `jina = …`). */
export const JINA_COMPAT = '2';
