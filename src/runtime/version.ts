/** The runtime's version, from its package.json. */
import { readFileSync } from 'node:fs';

export const RUNTIME_VERSION = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')).version as string;
