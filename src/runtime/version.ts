/** The runtime's version, from its package.json, and where the runtime's own files are. */
import { existsSync, readFileSync } from 'node:fs';

/** A file of the runtime's folder: beside its sources, or one folder up when it runs bundled (dist/). */
export const runtimeFile = (name: string): URL => [`./${name}`, `../${name}`].map((p) => new URL(p, import.meta.url)).find((u) => existsSync(u))!;

export const RUNTIME_VERSION = JSON.parse(readFileSync(runtimeFile('package.json'), 'utf8')).version as string;
