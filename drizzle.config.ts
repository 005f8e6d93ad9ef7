import { defineConfig } from 'drizzle-kit';

// Every built-in store table: the core's, the objects' (every object kind) and each built-in plugin's schema.ts.
export default defineConfig({
  dialect: 'sqlite',
  schema: ['./src/store/schema.ts', './src/auth/schema.ts', './src/objects/schema.ts', './plugins/*/schema.ts'],
  out: './drizzle',
});
