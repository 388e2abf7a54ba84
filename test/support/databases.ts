import type { DatabaseConfig } from '../../src/config/configuration.types.js';
import { type DatabaseConnection, openDatabase } from '../../src/database/database-connection.js';
import { createScratchPostgresDatabase } from './scratch-postgres.js';

export type TestDatabaseKind = 'PGlite' | 'PostgreSQL';

/**
 * PGlite in memory always; a real PostgreSQL too when `TEST_DATABASE_URL` names a server (any
 * database on it that the role can connect to; each test file creates and drops its own beside it).
 */
export function testDatabaseKinds(): TestDatabaseKind[] {
  return process.env.TEST_DATABASE_URL ? ['PGlite', 'PostgreSQL'] : ['PGlite'];
}

export function postgresServerUrl(): string | undefined {
  return process.env.TEST_DATABASE_URL || undefined;
}

export interface TestDatabase {
  kind: TestDatabaseKind;
  /** What the app's `database` namespace would hold for it. */
  config: DatabaseConfig;
  /** `DATABASE_URL` for an app started on it; undefined for PGlite (each app gets its own in memory). */
  url: string | undefined;
  /** A new connection: to the same database for PostgreSQL, to a new in-memory one for PGlite. */
  connect(): Promise<DatabaseConnection>;
  drop(): Promise<void>;
}

/** A database no other test file or run uses: a fresh in-memory PGlite, or a uniquely named PostgreSQL database. */
export async function createTestDatabase(kind: TestDatabaseKind): Promise<TestDatabase> {
  if (kind === 'PGlite') {
    const config: DatabaseConfig = { url: undefined, embeddedDir: undefined };
    return { kind, config, url: undefined, connect: () => openDatabase(config), drop: async () => undefined };
  }
  const server = postgresServerUrl();
  if (!server) throw new Error('TEST_DATABASE_URL is not set');
  const database = await createScratchPostgresDatabase(server, 'otp_test');
  const config: DatabaseConfig = { url: database.url, embeddedDir: undefined };
  return { kind, config, url: config.url, connect: () => openDatabase(config), drop: database.drop };
}
