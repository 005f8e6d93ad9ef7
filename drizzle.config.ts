import { defineConfig } from 'drizzle-kit';

// Every built-in store table: the core's and each built-in plugin's schema.ts.
export default defineConfig({
  dialect: 'sqlite',
  schema: ['./src/store/schema.ts', './plugins/*/schema.ts'],
  out: './drizzle',
});
