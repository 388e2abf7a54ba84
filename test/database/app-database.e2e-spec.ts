import { startApp, type TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase, testDatabaseKinds } from '../support/databases.js';

/**
 * The first embedded database of a test file starts from initdb in WebAssembly: seconds alone, but it has taken
 * 43 s late in a full in-band run, whose process by then is large and collects garbage often. A slow boot is no
 * failure here; one that never ends still is.
 */
const BOOT_TIMEOUT_MS = 180_000;

describe.each(testDatabaseKinds())('the app on %s', (kind) => {
  let database: TestDatabase;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    database = await createTestDatabase(kind);
  }, BOOT_TIMEOUT_MS);
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await database?.drop();
  });

  it(
    `boots ${kind === 'PGlite' ? 'without DATABASE_URL' : 'with DATABASE_URL'} and reports the database ready`,
    async () => {
      const replicas = kind === 'PGlite' ? 1 : 2;
      // Replicas started together on one PostgreSQL: both migrate, one waits for the other's lock.
      apps.push(...(await Promise.all(Array.from({ length: replicas }, () => startApp({ DATABASE_URL: database.url })))));
      for (const app of apps) {
        const response = await fetch(`${app.url}/health/ready`);
        expect(response.status).toBe(200);
        expect(await response.json()).toMatchObject({
          details: { database: { status: 'up', kind: kind === 'PGlite' ? 'pglite' : 'postgresql' } },
        });
      }
    },
    BOOT_TIMEOUT_MS,
  );
});
