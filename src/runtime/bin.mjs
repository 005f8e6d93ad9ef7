#!/usr/bin/env node
// The runtime's `jinad` command (flow | pod | pea | partial), as run in containers: TypeScript
// executors load without a build step, then the CLI runs.
import './bootstrap.mjs';

const { run } = await import('./cli.ts');
await run(process.argv.slice(2));
