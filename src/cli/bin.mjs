#!/usr/bin/env node
// `jinad`: TypeScript loads without a build step (and executors can import 'jinad'), then the CLI runs.
import '../runtime/bootstrap.mjs';

const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));
