/** The runtime's version, from its package.json. */
import { existsSync, readFileSync } from 'node:fs';

// Beside this file, or one folder up when the runtime runs bundled (dist/).
const file = ['./package.json', '../package.json'].map((p) => new URL(p, import.meta.url)).find((u) => existsSync(u))!;
export const RUNTIME_VERSION = JSON.parse(readFileSync(file, 'utf8')).version as string;
