import { defineConfig } from 'drizzle-kit';

// `npm run db:generate` writes a new migration into migrations/ from server/db/schema.ts.
// Review the SQL it writes before committing it; never edit a committed migration.
export default defineConfig({
  dialect: 'turso',
  schema: './server/db/schema.ts',
  out: './migrations',
  dbCredentials: { url: 'file:./data/drizzle-kit.db' },
});
