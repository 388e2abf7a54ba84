import { PGlite } from '@electric-sql/pglite';
import { Logger } from '@nestjs/common';
import { drizzle as drizzleNodePg } from 'drizzle-orm/node-postgres';
import { migrate as migrateNodePg } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { DatabaseConfig } from '../config/configuration.types.js';
import type { Database } from './database.constants.js';
import * as schema from './schema.js';

/**
 * Beside this file in src/ (jest) and in dist/ (the build copies non-TypeScript files), so the same
 * relative URL finds them in both.
 */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('./migrations', import.meta.url));

/**
 * Replicas that start together all try to migrate; the first one takes this session-level lock and
 * the others wait, then find nothing left to apply. `hashtext` turns the name into the lock's key.
 */
const MIGRATION_LOCK = `hashtext('otp-gateway:migrations')`;

export interface DatabaseConnection {
  readonly kind: 'postgresql' | 'pglite';
  readonly db: Database;
  /** `SELECT 1`: rejects when the database does not answer. */
  ping(): Promise<void>;
  /** Applies the pending migrations; safe to run on every start and from several processes at once. */
  migrate(): Promise<void>;
  close(): Promise<void>;
}

/** PostgreSQL when a URL is given; otherwise PGlite, in files under `embeddedDir` or in memory. */
export function openDatabase(config: DatabaseConfig): Promise<DatabaseConnection> {
  if (config.url) return Promise.resolve(connectPostgres(config.url));
  return openPglite(config.embeddedDir);
}

export function connectPostgres(url: string): DatabaseConnection {
  const logger = new Logger('Database');
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    // Fail a query within seconds when the server is unreachable instead of waiting for a connection forever.
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 30_000,
    application_name: 'otp-gateway',
  });
  // An idle client that loses its server emits 'error' on the pool; unhandled, it would end the process.
  pool.on('error', (error) => logger.error(`PostgreSQL connection lost: ${error.message}`));
  const db: Database = drizzleNodePg({ client: pool, schema });

  return {
    kind: 'postgresql',
    db,
    async ping() {
      await pool.query('SELECT 1');
    },
    async migrate() {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK})`);
        try {
          await migrateNodePg(drizzleNodePg({ client, schema }), { migrationsFolder: MIGRATIONS_FOLDER });
        } finally {
          await client.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`);
        }
      } catch (error) {
        broken = error instanceof Error ? error : new Error(String(error));
        throw error;
      } finally {
        // A client whose unlock may not have run is destroyed rather than pooled: closing its session frees the lock.
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}

/**
 * Creating a PGlite cluster from nothing (initdb in WebAssembly) takes seconds; loading a snapshot
 * takes a fraction of that. In-memory databases in one process therefore start from one migrated
 * snapshot, made the first time one is asked for.
 */
let migratedSnapshot: Promise<File | Blob> | undefined;

function snapshotOfMigratedDatabase(): Promise<File | Blob> {
  migratedSnapshot ??= (async () => {
    const seed = await PGlite.create();
    try {
      await migratePglite(drizzlePglite({ client: seed, schema }), { migrationsFolder: MIGRATIONS_FOLDER });
      return await seed.dumpDataDir('none');
    } finally {
      await seed.close();
    }
  })().catch((error: unknown) => {
    migratedSnapshot = undefined;
    throw error;
  });
  return migratedSnapshot;
}

export async function openPglite(dataDir: string | undefined): Promise<DatabaseConnection> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const client = dataDir ? await PGlite.create({ dataDir }) : await PGlite.create({ loadDataDir: await snapshotOfMigratedDatabase() });
  const db: Database = drizzlePglite({ client, schema });

  return {
    kind: 'pglite',
    db,
    async ping() {
      await client.query('SELECT 1');
    },
    async migrate() {
      // One PGlite belongs to one process, so there is no other migrator to wait for.
      await migratePglite(drizzlePglite({ client, schema }), { migrationsFolder: MIGRATIONS_FOLDER });
    },
    async close() {
      if (!client.closed) await client.close();
    },
  };
}
