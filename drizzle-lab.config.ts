// drizzle-kit reads this to generate the lab's PostgreSQL migrations from src/lab/lab-schema.ts into drizzle-lab/.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/lab/lab-schema.ts',
  out: './drizzle-lab',
});
