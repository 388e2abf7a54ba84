import { defineConfig } from 'drizzle-kit';

// Migrations live under src/ so the build copies them to dist/ beside the code that applies them.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/database/schema.ts',
  out: './src/database/migrations',
});
