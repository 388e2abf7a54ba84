import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { DatabaseConfig } from '../../src/config/configuration.types.js';
import { type DatabaseConnection, openDatabase } from '../../src/database/database-connection.js';

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
  const name = `otp_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await administer(server, `CREATE DATABASE "${name}"`);
  const url = new URL(server);
  url.pathname = `/${name}`;
  const config: DatabaseConfig = { url: url.toString(), embeddedDir: undefined };
  return {
    kind,
    config,
    url: config.url,
    connect: () => openDatabase(config),
    drop: () => administer(server, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}

async function administer(serverUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
