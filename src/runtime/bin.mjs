#!/usr/bin/env node
// The `jinad` command: TypeScript executors load without a build step, then the CLI runs.
import './bootstrap.mjs';

await import('./cli.ts');
