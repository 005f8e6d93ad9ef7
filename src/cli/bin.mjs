#!/usr/bin/env node
// `jinad`: `jinad serve` runs the daemon from its bundle (src/bundle.mjs), as `npm start` does;
// every other command loads TypeScript without a build step (and executors can import 'jinad').
const argv = process.argv.slice(2);
if (argv[0] === 'serve' && !argv.includes('--help') && !argv.includes('-h')) {
  await import('../threadpool.mjs'); // before anything uses the pool
  const serve = await (await import('../bundle.mjs')).loadServe();
  await serve(argv.slice(1));
} else {
  await import('../runtime/bootstrap.mjs');
  const { main } = await import('./main.ts');
  process.exitCode = await main(argv);
}
