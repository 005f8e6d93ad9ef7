#!/usr/bin/env node
// The runtime's `jinad` command (flow | pod | pea | partial). In containers the runtime is bundled
// into dist/ when the base image is built (no TypeScript loader, one file to read: a faster
// start); elsewhere TypeScript executors and the runtime load without a build step (tsx).
import { existsSync } from 'node:fs';

const bundle = new URL('./dist/cli.mjs', import.meta.url);
if (!existsSync(bundle)) await import('./bootstrap.mjs');
const { run } = await import(existsSync(bundle) ? bundle.href : './cli.ts');
await run(process.argv.slice(2));
