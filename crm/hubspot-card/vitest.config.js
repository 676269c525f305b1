import { defineConfig } from 'vitest/config';

// Deadlines are shown in the user's local time; the tests pin it so that they read the same
// everywhere (the workers inherit the zone from this process).
process.env.TZ = 'Europe/Amsterdam';

export default defineConfig({
  test: {
    include: ['test/**/*.test.{js,jsx}'],
    environment: 'node',
  },
});
