import { defineConfig } from './src/config.ts';

// Every key is optional; environment variables (JINAD_*) and CLI flags override these.
// See README § Configuration for the full list.
export default defineConfig({
  port: 8000,
  root: '/tmp/jinad',
  buildConcurrency: 2,
  baseImage: { strategy: 'build' },
});
