#!/usr/bin/env node
// The runtime's `jinad` command (flow | pod | pea | partial). In containers the runtime is bundled
// into dist/ when the base image is built (no TypeScript loader, one file to read: a faster
// start), and a restarted partial daemon starts its Peas before it loads (prestart.mjs);
// elsewhere TypeScript executors and the runtime load without a build step (tsx).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bundle = new URL('./dist/cli.mjs', import.meta.url);
const bundled = existsSync(bundle);
if (bundled && process.argv[2] === 'partial') (await import('./prestart.mjs')).prestart(process.argv, fileURLToPath(new URL('./dist/pea-worker.mjs', import.meta.url)));
if (!bundled) await import('./bootstrap.mjs');
const { run } = await import(bundled ? bundle.href : './cli.ts');
await run(process.argv.slice(2));
